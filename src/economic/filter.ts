// Builds e-conomic `filter=` expressions, e.g. `lastUpdated$gt:2026-01-01T00:00:00Z`.
// The client URL-encodes the result; values here are only escaped for the filter grammar itself.

export type FilterValue = string | number | boolean | Date;

/** e-conomic's instant literal: ISO 8601 in UTC without milliseconds. */
export function formatInstant(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// Characters with a meaning in the filter grammar are escaped with `$` (e-conomic's documented escape).
function formatValue(v: FilterValue): string {
  if (v instanceof Date) return formatInstant(v);
  if (typeof v === 'string') return v.replace(/[$()*,[\]]/g, (c) => `$${c}`);
  return String(v);
}

function cond(op: string) {
  return (field: string, value: FilterValue): string => `${field}$${op}:${formatValue(value)}`;
}

export const filters = {
  eq: cond('eq'),
  ne: cond('ne'),
  gt: cond('gt'),
  gte: cond('gte'),
  lt: cond('lt'),
  lte: cond('lte'),
  like: cond('like'),
  in(field: string, values: readonly FilterValue[]): string {
    return `${field}$in:[${values.map(formatValue).join(',')}]`;
  },
  and(...parts: ReadonlyArray<string | undefined>): string {
    return parts.filter((p): p is string => p !== undefined && p !== '').join('$and:');
  },
  or(...parts: ReadonlyArray<string | undefined>): string {
    return parts.filter((p): p is string => p !== undefined && p !== '').join('$or:');
  },
  lastUpdatedAfter(date: Date | string): string {
    return cond('gt')('lastUpdated', typeof date === 'string' ? new Date(date) : date);
  },
  /** Inclusive range on a number field; either end may be omitted. */
  numberRange(field: string, from?: number, to?: number): string {
    return filters.and(
      from === undefined ? undefined : cond('gte')(field, from),
      to === undefined ? undefined : cond('lte')(field, to),
    );
  },
};
