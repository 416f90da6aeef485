// `status [--tenant <name>]`: per tenant, the bound agreement and the credentials (ok, broken, refused
// grant of another agreement: docs/webhook.md); per entity kind, rows (live and deleted), last sync,
// failures and access (`forbidden` after a 403); then each tenant's reconciliation scopes, and under them
// what the last run needs an operator for: a deletion guard that stopped, stuck entities, failed
// listings, a budget-cut run waiting to resume (docs/cli.md), and a full run's expected finish across
// days (src/cli/run-estimate.ts). Per bound tenant, its agreement's e-conomic call budget in the current
// 24-hour window and a 429 pause if any (docs/economic-api.md, "The call budget").
import { createCallBudget, type AgreementBudget } from '../access/call-budget';
import { formatLiveProgress, TENANT_SCOPE, type ReconcileResume, type ReconcileSummary } from '../shared/reconcile';
import { formatRunEstimate } from '../shared/run-estimate';
import { reconcileNotes } from './reconcile';
import { estimateResume, estimateRunning, pausedLine } from './run-estimate';
import { createEntityStore } from '../store/entity-store';
import { createReconcileStore } from '../store/reconcile-store';
import { CliError, type CommandContext, type CommandResult } from './context';
import { formatTable } from './table';

const instant = (v: Date | null) => (v ? v.toISOString() : '-');

/** `ok`, `broken`, `none`, with `refused grant of agreement N` when a foreign grant was refused. */
export function credentialsText(r: { credentials: string | null; refusedAgreement: number | null }): string {
  const base = r.credentials ?? 'none';
  return r.refusedAgreement === null ? base : `${base}, refused grant of agreement ${r.refusedAgreement}`;
}

function lastResult(summary: Record<string, unknown> | null): string {
  return summary ? `${Number(summary.checked ?? 0)} checked, ${Number(summary.signalled ?? 0)} synced, ${Number(summary.deleted ?? 0)} deleted` : '-';
}

export async function status(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const tenant = typeof args.tenant === 'string' ? args.tenant : undefined;
  const list = await createEntityStore(ctx.db).statusByKind(tenant);
  if (list.length === 0) {
    if (tenant !== undefined) throw new CliError(`no tenant named "${tenant}"`);
    return { stdout: 'No tenants yet: create one with `access create --tenant <name>`.' };
  }
  const syncs = formatTable(
    ['tenant', 'agreement', 'credentials', 'kind', 'rows', 'deleted', 'last sync', 'failures', 'access'],
    list.map((r) => [
      r.tenant,
      r.agreement === null ? 'unbound' : String(r.agreement),
      credentialsText(r),
      r.kind,
      String(r.rows),
      String(r.deleted),
      instant(r.lastSync),
      String(r.failed),
      r.access,
    ]),
  );
  const agreements = new Map<string, number>();
  for (const r of list) if (r.agreement !== null) agreements.set(r.tenant, r.agreement);
  const callBudget = createCallBudget(ctx.db, { dailyCalls: ctx.config.economicDailyCallBudget });
  const usage = await callBudget.usage([...new Set(agreements.values())]);
  const budget = budgetTable(agreements, usage);
  const head = budget ? `${syncs}\n\n${budget}` : syncs;
  const reconciled = await createReconcileStore(ctx.db).stateRows(tenant);
  if (reconciled.length === 0) return { stdout: `${head}\n\nno reconciliation yet` };
  const reconcileTable = formatTable(
    ['tenant', 'reconciliation', 'watermark', 'last run', 'last full run', 'last result'],
    reconciled.map((r) => [r.tenant, r.scope === TENANT_SCOPE ? '(tenant)' : r.scope, instant(r.watermark), instant(r.lastRunAt), instant(r.lastFullRunAt), lastResult(r.lastSummary)]),
  );
  const now = new Date();
  const notes = reconciled
    .filter((r) => r.scope === TENANT_SCOPE && (r.lastSummary || r.progress))
    .flatMap((r) => {
      const summary = (r.lastSummary ?? {}) as Partial<ReconcileSummary>;
      const lines = reconcileNotes({ ...summary, tenant: r.tenant });
      const agreement = agreements.get(r.tenant);
      // The whole run's expected finish (docs/cli.md, "Expected finish"), from the tenant's own scope rows.
      const src = {
        now,
        scopeRows: reconciled.filter((s) => s.tenant === r.tenant && s.scope !== TENANT_SCOPE),
        usage: agreement === undefined ? undefined : usage.get(agreement),
        reconcileLimit: callBudget.limitFor('reconcile'),
      };
      if (r.resume) lines.push('last run stopped at its call budget: the next run resumes there');
      if (r.resume && !r.progress) {
        // A full run waiting to resume. Paused by the daily budget when the last run was cut by it (or, after
        // an incremental run in between, when reconciliation's share of today is spent).
        const e = estimateResume(r.resume as ReconcileResume, src);
        const spent = src.usage !== undefined && src.usage.used >= src.reconcileLimit;
        if (e) lines.push(summary.dailyBudgetCut || spent ? pausedLine(e, src.usage) : `waiting to resume: ${formatRunEstimate(e)}`);
      }
      if (r.progress) {
        const e = estimateRunning(r.progress, src);
        lines.push(`reconciling now (as of ${r.progress.updatedAt}): ${formatLiveProgress(r.progress)}${e ? `; whole run: ${formatRunEstimate(e)}` : ''}`);
      }
      return lines.map((line) => `${r.tenant}: ${line}`);
    });
  return { stdout: [head, reconcileTable, ...(notes.length > 0 ? [notes.join('\n')] : [])].join('\n\n') };
}

/** Bound tenants' e-conomic call budget: used/limit in the current window, and a 429 pause if any. */
function budgetTable(bound: Map<string, number>, usage: Map<number, AgreementBudget>): string | undefined {
  if (bound.size === 0) return undefined;
  return formatTable(
    ['tenant', 'agreement', 'e-conomic calls (24h window)', 'window ends', 'paused until'],
    [...bound].map(([name, agreement]) => {
      const u = usage.get(agreement);
      return [name, String(agreement), u ? `${u.used}/${u.limit}` : '-', u ? u.windowEnd.toISOString() : '-', u?.pausedUntil ? u.pausedUntil.toISOString() : '-'];
    }),
  );
}
