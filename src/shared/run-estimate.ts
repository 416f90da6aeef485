// The expected finish of a whole reconciliation run, across UTC days when the agreement's daily e-conomic
// call budget forces it (docs/cli.md, "Expected finish"). Pure: the caller gives the clock (`now`), the
// entities each remaining scope still has to compare, the agreement's use of the current window and
// reconciliation's daily share (src/access/call-budget.ts), so tests need no clock and the answer does not
// depend on the process's time zone (instants and days are UTC).
//
// Cost model (docs/economic-api.md, "The call budget"): about one e-conomic call per entity still to
// compare (a new or stale entity is fetched once, the bulk lane and the entity workflow alike) plus one
// listing call per page. That is an upper bound for entities already in Postgres and unchanged, which cost
// no fetch: the estimate errs late, never early. A scope whose size is not known counts as unknown, one
// listing call: the estimate then gives only a lower bound ("not before") and names the scopes it could not count.
import type { ReconcileScope } from './reconcile';

const DAY_MS = 24 * 3600_000;

export interface EstimateScope {
  scope: ReconcileScope;
  /** Entities this scope still has to compare; undefined when its size is unknown. */
  left?: number;
}

export interface EstimateInput {
  /** The caller's clock. */
  now: Date;
  /** The run's scopes not finished yet, the current one first. */
  scopes: EstimateScope[];
  /** Items per e-conomic listing page (one listing call each). */
  pageSize: number;
  /** The agreement's calls in the current UTC-day window, and reconciliation's daily share of it; absent for an unbound tenant. */
  budget?: { used: number; reconcileLimit: number };
  /** Entities compared per second by the current scope, if known: the finish instant on the last day. */
  ratePerSecond?: number;
}

export interface RunEstimate {
  /** Calls the run still needs: exact for counted scopes, one listing call for each unknown one (a lower bound then). */
  callsLeft: number;
  /** Entities the counted scopes still have to compare. */
  entitiesLeft: number;
  /** Scopes whose size is unknown: not in `callsLeft`. */
  unknown: ReconcileScope[];
  /** Calls reconciliation may still make in today's window; undefined without a budget. */
  callsLeftToday?: number;
  /** True: today's share covers the remaining calls (the rate may still carry it past 00:00 UTC); false: needs later days (at least, when `unknown` is not empty). */
  finishesToday?: boolean;
  /** UTC days after today the run needs at the budget's daily share (0 when it finishes today). */
  moreDays?: number;
  /** Expected finish: an ISO instant when the rate gives one, else the UTC day (YYYY-MM-DD) it ends in. */
  finish?: string;
}

/** Calls to compare `left` entities: their fetches and the listing pages. */
export function callsFor(left: number, pageSize: number): number {
  if (left <= 0) return 0;
  return left + Math.ceil(left / Math.max(1, pageSize));
}

export function estimateRun(input: EstimateInput): RunEstimate {
  let callsLeft = 0;
  let entitiesLeft = 0;
  const unknown: ReconcileScope[] = [];
  for (const s of input.scopes) {
    if (s.left === undefined || !Number.isFinite(s.left)) {
      // Not counted: at least its first listing page (which brings e-conomic's count).
      unknown.push(s.scope);
      callsLeft += 1;
      continue;
    }
    const left = Math.max(0, Math.round(s.left));
    entitiesLeft += left;
    callsLeft += callsFor(left, input.pageSize);
  }
  const out: RunEstimate = { callsLeft, entitiesLeft, unknown };
  const budget = input.budget;
  if (!budget || budget.reconcileLimit <= 0) return out;
  const now = input.now.getTime();
  const dayStart = Math.floor(now / DAY_MS) * DAY_MS;
  const callsLeftToday = Math.max(0, budget.reconcileLimit - budget.used);
  out.callsLeftToday = callsLeftToday;
  if (callsLeft <= callsLeftToday) {
    // Unknown scopes may still need more than today has left: then nothing can be said.
    if (unknown.length > 0) return out;
    out.finishesToday = true;
    out.moreDays = 0;
    const rate = input.ratePerSecond;
    out.finish = rate && rate > 0 ? new Date(now + (entitiesLeft / rate) * 1000).toISOString() : utcDay(dayStart);
    return out;
  }
  // Today's share is not enough: the rest at the daily share, from 00:00 UTC on.
  out.finishesToday = false;
  const afterToday = callsLeft - callsLeftToday;
  const moreDays = Math.ceil(afterToday / budget.reconcileLimit);
  out.moreDays = moreDays;
  const lastDayStart = dayStart + moreDays * DAY_MS;
  const lastDayCalls = afterToday - (moreDays - 1) * budget.reconcileLimit;
  const rate = input.ratePerSecond;
  // On the last day the rate (entities per second, about one call each) gives the hour, if known.
  out.finish = rate && rate > 0 ? new Date(lastDayStart + (lastDayCalls / rate) * 1000).toISOString() : utcDay(lastDayStart);
  return out;
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** One clause for an operator, e.g. `1234 calls left (900 today); expected finish 2026-12-01 (2 more UTC days)`. */
export function formatRunEstimate(e: RunEstimate): string {
  const bound = e.unknown.length > 0;
  const calls = `${bound ? 'at least ' : ''}${e.callsLeft} e-conomic calls left`;
  const today = e.callsLeftToday !== undefined ? ` (${e.callsLeftToday} left today in reconciliation's share)` : '';
  const notCounted = bound ? `; not counted yet: ${e.unknown.join(', ')} (no earlier full run listed them)` : '';
  let finish: string;
  if (e.finishesToday === undefined) finish = e.callsLeftToday === undefined ? 'expected finish unknown (no call budget: tenant unbound)' : 'expected finish unknown';
  else if (e.finishesToday) finish = `within today's share: expected finish ${e.finish}`;
  else finish = `expected finish ${bound ? 'not before ' : ''}${e.finish} (${e.moreDays} more UTC ${e.moreDays === 1 ? 'day' : 'days'} at the daily share, which resets at 00:00 UTC)`;
  return `${calls}${today}; ${finish}${notCounted}`;
}
