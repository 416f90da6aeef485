// The fake's interpretation of e-conomic's `filter=` grammar: conditions `field$op:value` joined by `$and:`
// (binding tighter) and `$or:`. Only fields the endpoint declares filterable may appear, else a 400.

export class FilterError extends Error {}

type Op = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'like' | 'in';
interface Condition {
  field: string;
  op: Op;
  values: string[];
}

const CONDITION = /^([A-Za-z][A-Za-z0-9.]*)\$(eq|ne|gte|gt|lte|lt|like|in):(.*)$/s;

function unescape(v: string): string {
  return v.replace(/\$(.)/g, '$1');
}

/** Splits on a separator that is not escaped with a preceding `$` (other than the separator's own `$`). */
function splitUnescaped(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text.startsWith(sep, i)) {
      out.push(cur);
      cur = '';
      i += sep.length - 1;
      continue;
    }
    const ch = text[i] ?? '';
    if (ch === '$' && sep !== '$' && i + 1 < text.length && !text.startsWith(sep, i)) {
      cur += ch + (text[i + 1] ?? '');
      i++;
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out;
}

function parseCondition(text: string, filterable: ReadonlySet<string>): Condition {
  const m = CONDITION.exec(text);
  if (!m) throw new FilterError(`Invalid filter expression "${text}"`);
  const field = m[1] ?? '';
  const op = (m[2] ?? 'eq') as Op;
  const raw = m[3] ?? '';
  if (!filterable.has(field)) throw new FilterError(`The property "${field}" is not filterable`);
  let values: string[];
  if (op === 'in') {
    if (!raw.startsWith('[') || !raw.endsWith(']')) throw new FilterError(`$in expects [a,b,...] for "${field}"`);
    values = splitUnescaped(raw.slice(1, -1), ',').map(unescape);
  } else {
    values = [unescape(raw)];
  }
  return { field, op, values };
}

export type Predicate = (item: Record<string, unknown>) => boolean;

function getPath(item: Record<string, unknown>, path: string): unknown {
  let cur: unknown = item;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/** Reads a `lastUpdated` value or literal as epoch ms; throws FilterError when it is not one. */
export type TimeReader = (text: string) => number;

/** The legacy REST's instants: with a zone as written; a zone-less one as UTC (never the host's zone). */
export const readRestTime: TimeReader = (text) => {
  const t = Date.parse(/(?:Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`);
  if (Number.isNaN(t)) throw new FilterError(`"${text}" is not a valid date-time for "lastUpdated"`);
  return t;
};

function compare(actual: unknown, literal: string, field: string, readTime: TimeReader): number | undefined {
  if (literal === 'null') return actual === undefined || actual === null ? 0 : undefined;
  if (actual === undefined || actual === null) return undefined;
  if (typeof actual === 'number') {
    const n = Number(literal);
    if (literal.trim() === '' || Number.isNaN(n)) throw new FilterError(`"${literal}" is not a number for "${field}"`);
    return actual - n;
  }
  if (typeof actual === 'boolean') return actual === (literal === 'true') ? 0 : 1;
  if (field === 'lastUpdated') return readTime(text(actual)) - readTime(literal);
  const a = text(actual);
  return a < literal ? -1 : a > literal ? 1 : 0;
}

function evaluate(c: Condition, item: Record<string, unknown>, readTime: TimeReader): boolean {
  const actual = getPath(item, c.field);
  if (c.op === 'in') return c.values.some((v) => compare(actual, v, c.field, readTime) === 0);
  const literal = c.values[0] ?? '';
  if (c.op === 'like') {
    const re = new RegExp(`^${literal.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
    return re.test(actual === undefined || actual === null ? '' : text(actual));
  }
  const d = compare(actual, literal, c.field, readTime);
  switch (c.op) {
    case 'eq':
      return d === 0;
    case 'ne':
      return d !== 0;
    case 'gt':
      return d !== undefined && d > 0;
    case 'gte':
      return d !== undefined && d >= 0;
    case 'lt':
      return d !== undefined && d < 0;
    case 'lte':
      return d !== undefined && d <= 0;
  }
}

/** Parses a filter into a predicate; throws FilterError (→ 400) on bad syntax or a non-filterable field. */
export function compileFilter(filter: string, filterable: ReadonlySet<string>, readTime: TimeReader = readRestTime): Predicate {
  const groups = filter.split('$or:').map((g) => g.split('$and:').map((c) => parseCondition(c, filterable)));
  // Literals are checked once up front, so a bad one is a 400 even when no item reaches the comparison.
  for (const c of groups.flat()) if (c.field === 'lastUpdated') for (const v of c.values) if (v !== 'null') readTime(v);
  return (item) => groups.some((conds) => conds.every((c) => evaluate(c, item, readTime)));
}
