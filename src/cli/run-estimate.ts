// What `status` and `reconcile` say about the whole run's expected finish (docs/cli.md, "Expected finish"):
// the inputs of the pure estimate (src/shared/run-estimate.ts) gathered from what Postgres already holds.
//
// Sizes of the scopes not listed yet come from the tenant's previous full run: each scope row keeps its
// last full listing's size (`fullTotal`, e-conomic's `pagination.results`). Chosen over counting each
// remaining scope with a pageSize=1 listing at the run's start because it costs no e-conomic calls of the
// very budget the estimate is about, and changes nothing in what a run calls. Its limit: a tenant's first
// full run (onboarding) has no previous one, so a scope becomes counted only when its listing starts
// (its first page carries e-conomic's count); until then the estimate names it and gives a lower bound.
// The current scope's size is e-conomic's count for its listing, live. Only full runs are estimated: an
// incremental run lists what changed since its watermark, which no earlier count predicts.
import type { AgreementBudget } from '../access/call-budget';
import { FULL_SCOPES, type ReconcileLiveProgress, type ReconcileResume, type ReconcileScope } from '../shared/reconcile';
import { estimateRun, formatRunEstimate, type EstimateScope, type RunEstimate } from '../shared/run-estimate';

/** e-conomic's page size a run uses unless its options say otherwise (activities/reconcile.ts). */
const DEFAULT_PAGE_SIZE = 1000;

export interface EstimateSources {
  now: Date;
  /** The tenant's scope rows: `lastSummary.fullTotal` is the scope's last full listing's size. */
  scopeRows: Array<{ scope: string; lastSummary: Record<string, unknown> | null }>;
  /** The agreement's current window, and reconciliation's daily share of it; absent for an unbound tenant. */
  usage?: AgreementBudget;
  reconcileLimit: number;
  pageSize?: number;
}

function previousTotals(rows: EstimateSources['scopeRows']): Map<string, number> {
  const totals = new Map<string, number>();
  for (const r of rows) {
    const total = r.lastSummary?.fullTotal;
    if (typeof total === 'number' && Number.isFinite(total)) totals.set(r.scope, total);
  }
  return totals;
}

function estimate(src: EstimateSources, scopes: EstimateScope[], ratePerSecond?: number): RunEstimate {
  return estimateRun({
    now: src.now,
    scopes,
    pageSize: src.pageSize ?? DEFAULT_PAGE_SIZE,
    ...(src.usage ? { budget: { used: src.usage.used, reconcileLimit: src.reconcileLimit } } : {}),
    ...(ratePerSecond !== undefined ? { ratePerSecond } : {}),
  });
}

/** Entities the current scope still has: its live count less what is compared, else the previous full run's. */
function currentLeft(scope: ReconcileScope, total: number | undefined, checked: number, totals: Map<string, number>): number | undefined {
  const size = total ?? totals.get(scope);
  return size === undefined ? undefined : Math.max(0, size - checked);
}

/** A running full run, from its live progress; undefined for an incremental run (nothing to estimate from). */
export function estimateRunning(p: ReconcileLiveProgress, src: EstimateSources): RunEstimate | undefined {
  // The live progress names the current scope and its position; a full run's scopes are FULL_SCOPES.
  if (!p.full || p.scopeCount !== FULL_SCOPES.length || FULL_SCOPES[p.scopeIndex] !== p.scope) return undefined;
  const totals = previousTotals(src.scopeRows);
  const scopes: EstimateScope[] = [
    { scope: p.scope, left: currentLeft(p.scope, p.total, p.checked, totals) },
    ...FULL_SCOPES.slice(p.scopeIndex + 1).map((scope) => ({ scope, left: totals.get(scope) })),
  ];
  return estimate(src, scopes, p.ratePerSecond > 0 ? p.ratePerSecond : undefined);
}

/** A budget-cut full run waiting to resume, from its stored resume point. */
export function estimateResume(r: ReconcileResume, src: EstimateSources): RunEstimate | undefined {
  if (!r.full || r.scopeIndex >= r.scopes.length) return undefined;
  const totals = previousTotals(src.scopeRows);
  const current = r.scopes[r.scopeIndex] as ReconcileScope;
  const c = r.cursor;
  // A scope past its listing (orphan phase) has only Postgres-side checks left: no listing calls.
  const left = !c ? totals.get(current) : c.phase === 'orphans' ? 0 : currentLeft(current, c.total, c.counts.checked, totals);
  const scopes: EstimateScope[] = [{ scope: current, left }, ...r.scopes.slice(r.scopeIndex + 1).map((scope) => ({ scope, left: totals.get(scope) }))];
  return estimate(src, scopes);
}

/** `status`'s line for a tenant whose full run the daily budget cut: paused until the window ends. */
export function pausedLine(e: RunEstimate, usage: AgreementBudget | undefined): string {
  const until = usage ? `${usage.windowEnd.toISOString()} (00:00 UTC)` : '00:00 UTC';
  return `paused until ${until} by the daily call budget; ${formatRunEstimate(e)}`;
}
