// Reconciliation of one tenant: converges Postgres to e-conomic even when webhooks were lost.
// Started by the tenant's Schedule `reconcile/<tenant>` (mode `auto`: full when the last full run is
// older than `fullEveryMs`, else incremental) or by `reconcile --tenant <name> [--full]`.
//
// Scope by scope, an activity lists a bounded number of pages and hands its cursor back; the workflow
// carries the cursor, enforces the run's call budget, and continues as new when its history grows, so
// a tenant of any size runs in bounded history. Each scope's watermark advances only after its work is
// done (inside the activity's last call for that scope).
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { BookkeepingActivities, ReconciliationActivities } from '../activities';
import {
  emptyCounts,
  type ReconcileInput,
  type ReconcileProgress,
  type ReconcileScope,
  type ReconcileSummary,
  type ScopeCounts,
} from '../src/shared/reconcile';
import { BOOKKEEPING_OPTIONS, RECONCILIATION_OPTIONS } from './activity-options';

const bookkeeping = proxyActivities<BookkeepingActivities>(BOOKKEEPING_OPTIONS);
const reconciliation = proxyActivities<ReconciliationActivities>(RECONCILIATION_OPTIONS);

/** Activity calls per execution before continuing as new (each is a handful of history events). */
const CALLS_PER_EXECUTION = 200;

export async function reconcileWorkflow(input: ReconcileInput): Promise<ReconcileSummary> {
  const { tenantId, tenant } = input;
  const options = input.options ?? {};
  const maxListCalls = options.maxListCallsPerRun ?? 2000;
  const pagesPerActivity = options.pagesPerActivity ?? 50;

  let progress: ReconcileProgress;
  if (input.progress) {
    progress = input.progress;
  } else {
    const begun = await bookkeeping.beginReconcile({ tenantId, tenant, mode: input.mode, fullEveryMs: input.fullEveryMs });
    progress = { runId: workflowInfo().firstExecutionRunId, full: begun.full, scopes: begun.scopes, scopeIndex: 0, listCalls: 0, perScope: {} };
  }

  let budgetExhausted = false;
  let calls = 0;
  while (progress.scopeIndex < progress.scopes.length) {
    const scope = progress.scopes[progress.scopeIndex] as ReconcileScope;
    const remaining = maxListCalls - progress.listCalls;
    if (remaining <= 0) {
      budgetExhausted = true;
      break;
    }
    const callsBefore = progress.cursor?.counts.calls ?? 0;
    const result = await reconciliation.reconcileScope({
      tenantId,
      tenant,
      runId: progress.runId,
      scope,
      full: progress.full,
      cursor: progress.cursor,
      maxPages: Math.min(pagesPerActivity, remaining),
      options,
    });
    progress.listCalls += result.cursor.counts.calls - callsBefore;
    if (result.done) {
      progress.perScope[scope] = result.cursor.counts;
      progress.scopeIndex += 1;
      progress.cursor = undefined;
    } else {
      progress.cursor = result.cursor;
    }
    calls += 1;
    if (progress.scopeIndex < progress.scopes.length && (calls >= CALLS_PER_EXECUTION || workflowInfo().continueAsNewSuggested)) {
      await continueAsNew<typeof reconcileWorkflow>({ ...input, progress });
    }
  }

  const summary = summarize(tenant, progress, budgetExhausted);
  await bookkeeping.finishReconcile({ tenantId, summary });
  return summary;
}

function summarize(tenant: string, p: ReconcileProgress, budgetExhausted: boolean): ReconcileSummary {
  const total: ScopeCounts = emptyCounts();
  for (const counts of Object.values(p.perScope)) {
    if (!counts) continue;
    total.checked += counts.checked;
    total.signalled += counts.signalled;
    total.synced += counts.synced;
    total.deleted += counts.deleted;
    total.failed += counts.failed;
  }
  return {
    tenant,
    runId: p.runId,
    full: p.full,
    checked: total.checked,
    signalled: total.signalled,
    synced: total.synced,
    deleted: total.deleted,
    failed: total.failed,
    listCalls: p.listCalls,
    budgetExhausted,
    scopes: p.perScope,
  };
}
