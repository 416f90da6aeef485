// Builds e-conomic `filter=` expressions, e.g. `lastUpdated$gt:2026-01-01T00:00:00Z`.
// The client URL-encodes the result; values here are only escaped for the filter grammar itself.
// Two builders, because the two API families write instants differently (docs/economic-api.md): the legacy
// REST with `Z`, the Projects API without a zone. Use `filters` for the REST, `projectFilters` for projects.

import { formatProjectsTime } from './projects-time';

export type FilterValue = string | number | boolean | Date;

/** e-conomic's instant literal: ISO 8601 in UTC without milliseconds. */
export function formatInstant(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface FilterBuilder {
  eq(field: string, value: FilterValue): string;
  ne(field: string, value: FilterValue): string;
  gt(field: string, value: FilterValue): string;
  gte(field: string, value: FilterValue): string;
  lt(field: string, value: FilterValue): string;
  lte(field: string, value: FilterValue): string;
  like(field: string, value: FilterValue): string;
  in(field: string, values: readonly FilterValue[]): string;
  and(...parts: ReadonlyArray<string | undefined>): string;
  or(...parts: ReadonlyArray<string | undefined>): string;
  lastUpdatedAfter(date: Date | string): string;
  /** Inclusive range on a number field; either end may be omitted. */
  numberRange(field: string, from?: number, to?: number): string;
}

function join(separator: string, parts: ReadonlyArray<string | undefined>): string {
  return parts.filter((p): p is string => p !== undefined && p !== '').join(separator);
}

function makeFilters(formatDate: (d: Date) => string): FilterBuilder {
  // Characters with a meaning in the filter grammar are escaped with `$` (e-conomic's documented escape).
  const formatValue = (v: FilterValue): string => {
    if (v instanceof Date) return formatDate(v);
    if (typeof v === 'string') return v.replace(/[$()*,[\]]/g, (c) => `$${c}`);
    return String(v);
  };
  const cond = (op: string) => (field: string, value: FilterValue): string => `${field}$${op}:${formatValue(value)}`;
  const builder: FilterBuilder = {
    eq: cond('eq'),
    ne: cond('ne'),
    gt: cond('gt'),
    gte: cond('gte'),
    lt: cond('lt'),
    lte: cond('lte'),
    like: cond('like'),
    in: (field, values) => `${field}$in:[${values.map(formatValue).join(',')}]`,
    and: (...parts) => join('$and:', parts),
    or: (...parts) => join('$or:', parts),
    // A string must name an instant (with its zone): a zone-less one would be read in the host's zone.
    lastUpdatedAfter: (date) => cond('gt')('lastUpdated', typeof date === 'string' ? instantOf(date) : date),
    numberRange: (field, from, to) =>
      builder.and(from === undefined ? undefined : cond('gte')(field, from), to === undefined ? undefined : cond('lte')(field, to)),
  };
  return builder;
}

function instantOf(text: string): Date {
  if (!/(?:Z|[+-]\d{2}:?\d{2})$/i.test(text)) throw new RangeError(`"${text.slice(0, 40)}" has no time zone`);
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new RangeError(`"${text.slice(0, 40)}" is not an instant`);
  return d;
}

/** Filters for the legacy REST: instants as `2026-01-01T00:00:00Z`. */
export const filters: FilterBuilder = makeFilters(formatInstant);

/** Filters for the Projects API: instants zone-less, as its `lastUpdated` is (`2026-01-01T00:00:00`). */
export const projectFilters: FilterBuilder = makeFilters(formatProjectsTime);
