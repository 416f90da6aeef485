// `reconcile --tenant <name> [--full] [--allow-mass-delete]`: runs the tenant's reconciliation now
// (workflow `reconcile/<tenant>/manual-<timestamp>` on the reconciliation task queue), waits for it,
// including the entity syncs it signalled, and prints what it did: entities that did not report back in
// time, deletions the guard stopped (docs/cli.md), and scopes whose listing failed. While it waits it
// prints the run's progress (scope, compared of e-conomic's count, rate, ETA) to stderr every few seconds,
// and for a full run the whole run's calls left and expected finish across days (src/cli/run-estimate.ts).
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { queryRows } from '../db/client';
import { reconcileScheduleId } from '../shared/entities';
import { createCallBudget } from '../access/call-budget';
import { formatLiveProgress, RECONCILE_WORKFLOW_TYPE, TENANT_SCOPE, type ReconcileInput, type ReconcileSummary } from '../shared/reconcile';
import { formatRunEstimate } from '../shared/run-estimate';
import { createReconcileStore } from '../store/reconcile-store';
import { EconomicTenant } from '../shared/search-attributes';
import type { reconcileWorkflow } from '../../workflows/reconcile';
import { CliError, type CommandContext, type CommandResult } from './context';
import { estimateRunning } from './run-estimate';
import { formatTable } from './table';

/** How often the command looks at the run's progress while it waits. */
const PROGRESS_EVERY_MS = 5_000;

export function formatReconcileSummary(s: ReconcileSummary): string {
  const rows = Object.entries(s.scopes).map(([scope, c]) => [scope, String(c?.checked ?? 0), String((c?.signalled ?? 0) + (c?.bulk ?? 0)), String(c?.bulk ?? 0), String(c?.deleted ?? 0), String(c?.failed ?? 0), String(c?.calls ?? 0)]);
  return [
    `${s.full ? 'full' : 'incremental'} reconciliation of ${s.tenant}: ${s.checked} entities checked, ${s.signalled + (s.bulk ?? 0)} synced, ${s.deleted} deleted` +
      `${s.failed > 0 ? `, ${s.failed} failed` : ''} (${s.listCalls} e-conomic listing calls${s.budgetExhausted ? (s.dailyBudgetCut ? ", stopped: the agreement's daily call budget is kept for webhook syncs" : ', stopped at the call budget') : ''})`,
    formatTable(['scope', 'checked', 'synced', 'of them in bulk', 'deleted', 'failed', 'calls'], rows),
    ...reconcileNotes(s),
  ].join('\n');
}

/** What needs an operator's eye, one line each (also shown by `status`). */
export function reconcileNotes(s: Partial<ReconcileSummary>): string[] {
  const notes: string[] = [];
  if (s.resumed) notes.push('resumed where a run stopped at its call budget');
  for (const g of s.guard ?? []) {
    notes.push(
      `deletion guard: ${g.scope} would bring the run to ${g.candidates} of ${g.rows} rows marked deleted (more than ${Math.round(g.maxShare * 100)}%); ` +
        `nothing was deleted: check why e-conomic no longer lists them, then run \`reconcile --tenant ${s.tenant ?? '<name>'} --full --allow-mass-delete\``,
    );
  }
  if (s.stuckCount) {
    const named = (s.stuck ?? []).map((e) => `${e.kind} ${e.number}`).join(', ');
    notes.push(`${s.stuckCount} entities did not report back in time (stuck): ${named}`);
  }
  for (const e of s.errors ?? []) notes.push(`${e.scope} failed (${e.type}): ${e.message}; nothing deleted for it`);
  return notes;
}

export async function reconcile(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const tenant = typeof args.tenant === 'string' ? args.tenant : undefined;
  if (!tenant) throw new CliError('--tenant <name> is required');
  const [row] = await queryRows<{ id: number; has_grant: boolean; agreement_number: number | null }>(
    ctx.db,
    sql`select t.id, (c.tenant_id is not null) as has_grant, c.agreement_number from tenants t left join tenant_credentials c on c.tenant_id = t.id where t.name = ${tenant}`,
  );
  if (!row) throw new CliError(`no tenant named "${tenant}"`);
  if (!row.has_grant) throw new CliError(`tenant "${tenant}" has no e-conomic grant yet: it arrives with the first webhook`);
  const full = args.full === true;
  const allowMassDelete = args.allowMassDelete === true;
  if (allowMassDelete && !full) throw new CliError('--allow-mass-delete needs --full: only a full run marks rows deleted');
  const client = await ctx.temporal();
  const input: ReconcileInput = {
    tenantId: row.id,
    tenant,
    mode: full ? 'full' : 'incremental',
    options: { maxDeleteShare: ctx.config.reconcileMaxDeleteShare, ...(allowMassDelete ? { allowMassDelete } : {}) },
  };
  const handle = await client.workflow.start<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId: `${reconcileScheduleId(tenant)}/manual-${Date.now()}`,
    taskQueue: ctx.config.reconcileTaskQueue,
    args: [input],
    typedSearchAttributes: [{ key: EconomicTenant, value: tenant }],
  });
  let shown = '';
  const callBudget = createCallBudget(ctx.db, { dailyCalls: ctx.config.economicDailyCallBudget });
  const store = createReconcileStore(ctx.db);
  const showProgress = async () => {
    const p = await store.progress(row.id);
    if (!p || p.updatedAt === shown || !ctx.progress) return;
    shown = p.updatedAt;
    // A full run's expected finish across days (docs/cli.md, "Expected finish").
    const agreement = row.agreement_number;
    const usage = agreement === null ? undefined : (await callBudget.usage([agreement])).get(agreement);
    const scopeRows = (await store.stateRows(tenant)).filter((r) => r.scope !== TENANT_SCOPE);
    const e = estimateRunning(p, { now: new Date(), scopeRows, usage, reconcileLimit: callBudget.limitFor('reconcile'), pageSize: input.options?.pageSize });
    ctx.progress(`${tenant}: ${formatLiveProgress(p)}${e ? `; whole run: ${formatRunEstimate(e)}` : ''}`);
  };
  const ticker = ctx.progress ? setInterval(() => {
        showProgress().catch(() => undefined);
      }, PROGRESS_EVERY_MS) : undefined;
  try {
    const summary = await handle.result();
    if (summary.busy) {
      const lapses = summary.busy.until ? ` (if it stopped without ending, its claim lapses at ${summary.busy.until})` : '';
      throw new CliError(
        `tenant "${tenant}" is being reconciled by ${summary.busy.workflowId}${lapses}; this run did nothing. ` +
          'Wait for that run to end (its progress is in `status`), or cancel it in the Temporal UI, then run this again.',
      );
    }
    return { stdout: formatReconcileSummary(summary) };
  } catch (err) {
    // A scope's listing failed for good: the run reported it and deleted nothing for it.
    const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
    const summary = cause instanceof ApplicationFailure ? (cause.details?.[0] as ReconcileSummary | undefined) : undefined;
    if (summary && typeof summary === 'object' && 'scopes' in summary) throw new CliError(formatReconcileSummary(summary));
    throw err;
  } finally {
    clearInterval(ticker);
  }
}
