// The Projects API reports `lastUpdated` without a time zone (`2022-05-31T00:00:00`), unlike the legacy
// REST's `...Z` (docs/economic-api.md). JavaScript reads such a text in the HOST's zone (`new Date(text)`,
// `Date.parse(text)`), so the same project would get another instant on a server in Copenhagen than on one
// in UTC. Every zone-less text is read and written here, and only here, under one documented reading.

/**
 * The reading this service applies: a zone-less Projects API timestamp is a UTC wall clock.
 * The alternative e-conomic leaves open is Danish local time; PROJECTS_TIME_MAX_SKEW_MS bounds the gap.
 */
export const PROJECTS_TIME_READING = 'UTC';

/**
 * How far the instant we read can be from the true one if e-conomic meant Danish local time instead:
 * Copenhagen is UTC+1, UTC+2 in summer. Under our UTC reading a Danish wall clock comes out up to this much
 * LATER than the real change. Values read and filters written both go through this module, so comparisons
 * within the Projects API are consistent either way; only a comparison with a real clock (a watermark capped
 * at a scan's start, an age) needs this much extra overlap for the projects scope.
 */
export const PROJECTS_TIME_MAX_SKEW_MS = 2 * 60 * 60 * 1000;

const ZONELESS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;
const EXPLICIT_ZONE = /(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * A Projects API `lastUpdated` as an instant, read as UTC whatever the host's zone. A text that does carry a
 * zone (`Z`, `+01:00`) is honoured as written. Fractions beyond milliseconds are truncated.
 * Throws RangeError on anything else (including impossible dates such as February 30th).
 */
export function parseProjectsTime(text: string): Date {
  const m = ZONELESS.exec(text);
  if (m) {
    const [, y, mo, d, h, mi, s, frac] = m;
    const date = new Date(0);
    date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
    date.setUTCHours(Number(h), Number(mi), Number(s ?? 0), Number((frac ?? '').padEnd(3, '0').slice(0, 3)));
    const roundTrip = date.toISOString().slice(0, 16);
    if (roundTrip !== `${y}-${mo}-${d}T${h}:${mi}` || Number(s ?? 0) > 59) {
      throw new RangeError(`not a valid Projects API timestamp: ${JSON.stringify(text.slice(0, 40))}`);
    }
    return date;
  }
  if (EXPLICIT_ZONE.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new RangeError(`not a valid Projects API timestamp: ${JSON.stringify(text.slice(0, 40))}`);
}

/**
 * An instant in the Projects API's zone-less form, for `filter=` values: whole seconds, rounded down (a
 * `$gt`/`$gte` bound then includes slightly more, never less).
 */
export function formatProjectsTime(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RangeError('invalid date');
  return d.toISOString().slice(0, 19);
}

/** A zone-less Projects API timestamp as an ISO instant with `Z`, the form the rest of the service stores. */
export function projectsTimeToInstant(text: string): string {
  return parseProjectsTime(text).toISOString().replace(/\.000Z$/, 'Z');
}
