// The fake Projects API's wall clock: e-conomic writes project timestamps without a zone, and whether that
// zone is UTC or Danish local time is unconfirmed (docs/economic-api.md). The fake can play either, so
// tests show the client reads the same instant whatever the host's TZ, and by how much the other reading
// differs. Conversions use Intl with an explicit zone, never the host's.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall clock of `ms` in `zone`, as milliseconds of the same wall clock read in UTC. */
function wallClock(ms: number, zone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const d = new Date(0);
  d.setUTCFullYear(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1);
  d.setUTCHours(parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0, ms - Math.floor(ms / 1000) * 1000);
  return d.getTime();
}

/** `2022-05-31T00:00:00`: the instant's wall clock in `zone`, whole seconds, no zone. */
export function toZoneless(ms: number, zone: string): string {
  return new Date(zone === 'UTC' ? ms : wallClock(ms, zone)).toISOString().slice(0, 19);
}

const ZONELESS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$/;

/** The instant of a zone-less wall clock in `zone` (a skipped or repeated DST hour takes one of its readings); NaN when malformed. */
export function fromZoneless(text: string, zone: string): number {
  const m = ZONELESS.exec(text);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s, frac] = m;
  const asUtc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), Number((frac ?? '').padEnd(3, '0').slice(0, 3)));
  if (zone === 'UTC') return asUtc;
  const first = asUtc - (wallClock(asUtc, zone) - asUtc);
  const offset = wallClock(first, zone) - first;
  return asUtc - offset;
}
