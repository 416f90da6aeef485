// Reconciliation of one tenant: converges Postgres to e-conomic even when webhooks were lost.
// Started by the tenant's Schedule `reconcile/<tenant>` (mode `auto`: full when the last full run is
// older than `fullEveryMs`, else incremental) or by `reconcile --tenant <name> [--full]`, on the
// reconciliation task queue (docs/temporal.md), so its activities never take a slot entity syncs need.
//
// Scope by scope, an activity lists a bounded number of pages, signals the entities that differ and hands
// its cursor and the signalled entities back. The waiting happens here, in the workflow, where it holds
// no worker slot: each entity workflow signals `entityDone` when the sync covering the run's event ends.
// Fan-out is bounded (at most `maxOutstanding` entities awaited at once; the listing pauses meanwhile),
// and every wait has a deadline: an entity silent for `entityTimeoutMs` is reported stuck and no longer
// awaited, so a run always ends and the next one proceeds. The workflow carries the cursor, enforces the
// run's call budget (a budget-cut run's position is stored, and the next run of that mode resumes it),
// and continues as new when its history grows. When the agreement's daily e-conomic budget runs low, the
// listing activity hands back `budgetCut` and the run stops the same way (src/access/call-budget.ts).
// A scope whose listing fails for good is reported and deletes nothing; the run goes on with the other
// scopes and then fails visibly. One run reconciles a tenant at a time: a run that begins while another
// holds the tenant (a manual run during a scheduled one) ends at once with `busy` in its summary.
import { ActivityFailure, ApplicationFailure, condition, continueAsNew, defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { BookkeepingActivities, ReconciliationActivities } from '../activities';
import {
  emptyCounts,
  ENTITY_DONE_SIGNAL,
  RECONCILE_PROGRESS_QUERY,
  reconcileEventId,
  type ReconcileQueryAnswer,
  type EntityDone,
  type ReconcileInput,
  type ReconcileProgress,
  type ReconcileScope,
  type ReconcileSummary,
  type ScopeCounts,
} from '../src/shared/reconcile';
import { BOOKKEEPING_OPTIONS, RECONCILIATION_OPTIONS } from './activity-options';

const bookkeeping = proxyActivities<BookkeepingActivities>(BOOKKEEPING_OPTIONS);
const reconciliation = proxyActivities<ReconciliationActivities>(RECONCILIATION_OPTIONS);

export const entityDoneSignal = defineSignal<[EntityDone]>(ENTITY_DONE_SIGNAL);
/** Where the run stands (the UI, `reconcile`): counts as of its last listing activity. */
export const progressQuery = defineQuery<ReconcileQueryAnswer>(RECONCILE_PROGRESS_QUERY);

/** Activity calls per execution before continuing as new (each is a handful of history events). */
const CALLS_PER_EXECUTION = 200;
const DEFAULT_MAX_OUTSTANDING = 200;
const DEFAULT_ENTITY_TIMEOUT_MS = 10 * 60_000;
/** Stuck entities listed by name in the summary (all are counted). */
const STUCK_LISTED = 20;

interface Awaited {
  scope: ReconcileScope;
  kind: string;
  number: number;
  since: number;
}

export async function reconcileWorkflow(input: ReconcileInput): Promise<ReconcileSummary> {
  const { tenantId, tenant } = input;
  const options = input.options ?? {};
  const maxListCalls = options.maxListCallsPerRun ?? 2000;
  const pagesPerActivity = options.pagesPerActivity ?? 50;
  const wait = options.waitForEntities ?? true;
  const maxOutstanding = Math.max(1, options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING);
  const entityTimeoutMs = options.entityTimeoutMs ?? DEFAULT_ENTITY_TIMEOUT_MS;
  const execution = workflowInfo().runId;
  const ownEvents = `reconcile:${execution}:`;

  // Entities signalled by this execution, by event id, until they report back or time out.
  const outstanding = new Map<string, Awaited>();
  // Reports that arrived before the activity that signalled them returned.
  const early = new Map<string, string>();
  // Outcomes of this execution's settled entities. An entity listed again by a later scope (an unpaid
  // invoice that is also new) gets the same event id, which its entity workflow may drop as a duplicate:
  // it is counted with the outcome it already reported instead of being awaited for a report that never comes.
  const reported = new Map<string, string>();

  let progress: ReconcileProgress;
  if (input.progress) {
    progress = input.progress;
  } else {
    const begun = await bookkeeping.beginReconcile({ tenantId, tenant, mode: input.mode, fullEveryMs: input.fullEveryMs, workflowId: workflowInfo().workflowId });
    // Another run holds the tenant: this one lists and records nothing (that run's summary stays the last).
    if (begun.busy) return { ...summarize(tenant, { runId: workflowInfo().firstExecutionRunId, full: false, scopes: [], scopeIndex: 0, listCalls: 0, perScope: {} }, false), busy: begun.busy };
    const resume = begun.resume;
    progress = resume
      ? { runId: resume.runId, full: resume.full, scopes: resume.scopes, scopeIndex: resume.scopeIndex, cursor: resume.cursor, listCalls: 0, perScope: {}, deletionCandidates: resume.deletionCandidates, resumed: true }
      : { runId: workflowInfo().firstExecutionRunId, full: begun.full, scopes: begun.scopes, scopeIndex: 0, listCalls: 0, perScope: {} };
  }
  const scopeCounts = (scope: ReconcileScope): ScopeCounts => (progress.perScope[scope] ??= emptyCounts());

  const settle = (eventId: string, outcome: string) => {
    const entity = outstanding.get(eventId);
    if (!entity) return false;
    outstanding.delete(eventId);
    reported.set(eventId, outcome);
    const counts = scopeCounts(entity.scope);
    if (outcome === 'failed') counts.failed += 1;
    else if (outcome === 'deleted') counts.deleted += 1;
    else counts.synced += 1;
    return true;
  };
  setHandler(progressQuery, () => ({ scopes: progress.scopes, scopeIndex: progress.scopeIndex, perScope: progress.perScope, listCalls: progress.listCalls, outstanding: outstanding.size }));
  setHandler(entityDoneSignal, ({ eventId, outcome }) => {
    if (settle(eventId, outcome)) return;
    // Reports for earlier runs under this workflow id are not ours; ours may come before the activity returned.
    if (eventId.startsWith(ownEvents)) early.set(eventId, outcome);
  });

  /** Entities silent for longer than the entity timeout: reported stuck, no longer awaited. */
  const expire = () => {
    const now = Date.now();
    for (const [eventId, entity] of outstanding) {
      if (now - entity.since < entityTimeoutMs) continue;
      outstanding.delete(eventId);
      const counts = scopeCounts(entity.scope);
      counts.stuck = (counts.stuck ?? 0) + 1;
      progress.stuck ??= [];
      if (progress.stuck.length < STUCK_LISTED) progress.stuck.push({ scope: entity.scope, kind: entity.kind, number: entity.number });
    }
  };
  /** Waits until at most `limit` entities are outstanding; never longer than the oldest one's deadline. */
  const waitUntilAtMost = async (limit: number) => {
    for (;;) {
      expire();
      if (outstanding.size <= limit) return;
      let oldest = Infinity;
      for (const entity of outstanding.values()) oldest = Math.min(oldest, entity.since);
      await condition(() => outstanding.size <= limit, Math.max(1, oldest + entityTimeoutMs - Date.now()));
    }
  };

  let budgetExhausted = false;
  let dailyBudgetCut = false;
  let calls = 0;
  while (progress.scopeIndex < progress.scopes.length) {
    const scope = progress.scopes[progress.scopeIndex] as ReconcileScope;
    const remaining = maxListCalls - progress.listCalls;
    if (remaining <= 0) {
      budgetExhausted = true;
      break;
    }
    if (wait) await waitUntilAtMost(maxOutstanding - 1);
    const callsBefore = progress.cursor?.counts.calls ?? 0;
    let result;
    try {
      result = await reconciliation.reconcileScope({
        tenantId,
        tenant,
        runId: progress.runId,
        scope,
        full: progress.full,
        cursor: progress.cursor,
        maxPages: Math.min(pagesPerActivity, remaining),
        maxSignals: wait ? maxOutstanding - outstanding.size : undefined,
        signalRunId: execution,
        replyTo: wait ? workflowInfo().workflowId : undefined,
        deletionCandidates: progress.deletionCandidates ?? 0,
        position: { scopeIndex: progress.scopeIndex, scopeCount: progress.scopes.length, checkedBefore: checkedBefore(progress, scope) },
        nextScope: progress.scopes[progress.scopeIndex + 1],
        options,
      });
    } catch (err) {
      // Loud, and nothing deleted for this scope: the run reports it, goes on, and fails at its end.
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : cause instanceof Error ? cause.name : 'Error';
      const message = cause instanceof Error ? cause.message : String(cause);
      (progress.errors ??= []).push({ scope, type, message });
      progress.scopeIndex += 1;
      progress.cursor = undefined;
      continue;
    }
    progress.listCalls += result.cursor.counts.calls - callsBefore;
    const counts = scopeCounts(scope);
    // The activity's own counters (checked, signalled, calls, peak); outcomes are counted here.
    const { synced, deleted, failed, stuck } = counts;
    Object.assign(counts, result.cursor.counts, { synced, deleted, failed, stuck });
    const now = Date.now();
    // `?? []`: a run recorded before entities reported back (its activity awaited them) replays unchanged.
    for (const entity of result.signalled ?? []) {
      const eventId = reconcileEventId(execution, entity.kind, entity.number);
      // Already awaited for an earlier scope: its one report settles it once.
      if (outstanding.has(eventId)) continue;
      outstanding.set(eventId, { scope, kind: entity.kind, number: entity.number, since: now });
      const already = reported.get(eventId);
      if (already !== undefined) {
        settle(eventId, already);
        continue;
      }
      const outcome = early.get(eventId);
      if (outcome !== undefined) {
        early.delete(eventId);
        settle(eventId, outcome);
      }
    }
    if (result.guard) (progress.guard ??= []).push(result.guard);
    progress.deletionCandidates = result.deletionCandidates ?? progress.deletionCandidates;
    if (result.budgetCut) {
      // The agreement's daily budget is down to what webhook syncs keep: store where we are, resume later.
      progress.cursor = result.cursor;
      budgetExhausted = true;
      dailyBudgetCut = true;
      break;
    }
    if (result.done) {
      progress.scopeIndex += 1;
      progress.cursor = undefined;
    } else {
      progress.cursor = result.cursor;
    }
    calls += 1;
    if (progress.scopeIndex < progress.scopes.length && (calls >= CALLS_PER_EXECUTION || workflowInfo().continueAsNewSuggested)) {
      // Reports are addressed to this execution's events: hear them all (or time them out) first.
      await waitUntilAtMost(0);
      await continueAsNew<typeof reconcileWorkflow>({ ...input, progress });
    }
  }
  if (wait) await waitUntilAtMost(0);

  const summary = { ...summarize(tenant, progress, budgetExhausted), ...(dailyBudgetCut ? { dailyBudgetCut: true } : {}) };
  await bookkeeping.finishReconcile({ tenantId, summary, resume: budgetExhausted ? resumePoint(progress) : undefined, workflowId: workflowInfo().workflowId });
  if (progress.errors && progress.errors.length > 0) {
    const first = progress.errors[0];
    throw ApplicationFailure.create({
      message: `reconciliation of ${tenant}: ${progress.errors.map((e) => `${e.scope} failed (${e.type}): ${e.message}`).join('; ')}`,
      type: first?.type,
      nonRetryable: true,
      details: [summary],
    });
  }
  return summary;
}

/** Entities compared by the run's other scopes (for the progress the listing activity records). */
function checkedBefore(p: ReconcileProgress, scope: ReconcileScope): number {
  let n = 0;
  for (const [s, counts] of Object.entries(p.perScope)) if (s !== scope && counts) n += counts.checked;
  return n;
}

function resumePoint(p: ReconcileProgress) {
  return { runId: p.runId, full: p.full, scopes: p.scopes, scopeIndex: p.scopeIndex, cursor: p.cursor, deletionCandidates: p.deletionCandidates ?? 0 };
}

function summarize(tenant: string, p: ReconcileProgress, budgetExhausted: boolean): ReconcileSummary {
  const total: ScopeCounts = emptyCounts();
  let stuck = 0;
  for (const counts of Object.values(p.perScope)) {
    if (!counts) continue;
    total.checked += counts.checked;
    total.signalled += counts.signalled;
    // Bulk-committed entities are synced entities that needed no entity workflow.
    total.synced += counts.synced + (counts.bulk ?? 0);
    total.bulk = (total.bulk ?? 0) + (counts.bulk ?? 0);
    total.deleted += counts.deleted;
    total.failed += counts.failed;
    stuck += counts.stuck ?? 0;
  }
  return {
    tenant,
    runId: p.runId,
    full: p.full,
    checked: total.checked,
    signalled: total.signalled,
    synced: total.synced,
    bulk: total.bulk ?? 0,
    deleted: total.deleted,
    failed: total.failed,
    listCalls: p.listCalls,
    budgetExhausted,
    scopes: p.perScope,
    ...(stuck > 0 ? { stuck: p.stuck ?? [], stuckCount: stuck } : {}),
    ...(p.guard && p.guard.length > 0 ? { guard: p.guard } : {}),
    ...(p.errors && p.errors.length > 0 ? { errors: p.errors } : {}),
    ...(p.resumed ? { resumed: true } : {}),
  };
}
