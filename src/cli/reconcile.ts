// `reconcile --tenant <name> [--full]`: runs the tenant's reconciliation now (workflow
// `reconcile/<tenant>/manual-<timestamp>`), waits for it, including the entity syncs it signalled, and
// prints what it did.
import { sql } from 'drizzle-orm';
import { queryRows } from '../db/client';
import { reconcileScheduleId } from '../shared/entities';
import { RECONCILE_WORKFLOW_TYPE, type ReconcileInput, type ReconcileSummary } from '../shared/reconcile';
import { EconomicTenant } from '../shared/search-attributes';
import type { reconcileWorkflow } from '../../workflows/reconcile';
import { CliError, type CommandContext, type CommandResult } from './context';
import { formatTable } from './table';

export function formatReconcileSummary(s: ReconcileSummary): string {
  const rows = Object.entries(s.scopes).map(([scope, c]) => [scope, String(c?.checked ?? 0), String(c?.signalled ?? 0), String(c?.deleted ?? 0), String(c?.failed ?? 0), String(c?.calls ?? 0)]);
  return [
    `${s.full ? 'full' : 'incremental'} reconciliation of ${s.tenant}: ${s.checked} entities checked, ${s.signalled} synced, ${s.deleted} deleted` +
      `${s.failed > 0 ? `, ${s.failed} failed` : ''} (${s.listCalls} e-conomic listing calls${s.budgetExhausted ? ', stopped at the call budget' : ''})`,
    formatTable(['scope', 'checked', 'synced', 'deleted', 'failed', 'calls'], rows),
  ].join('\n');
}

export async function reconcile(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const tenant = typeof args.tenant === 'string' ? args.tenant : undefined;
  if (!tenant) throw new CliError('--tenant <name> is required');
  const [row] = await queryRows<{ id: number; has_grant: boolean }>(
    ctx.db,
    sql`select t.id, (c.tenant_id is not null) as has_grant from tenants t left join tenant_credentials c on c.tenant_id = t.id where t.name = ${tenant}`,
  );
  if (!row) throw new CliError(`no tenant named "${tenant}"`);
  if (!row.has_grant) throw new CliError(`tenant "${tenant}" has no e-conomic grant yet: it arrives with the first webhook`);
  const client = await ctx.temporal();
  const input: ReconcileInput = { tenantId: row.id, tenant, mode: args.full === true ? 'full' : 'incremental' };
  const handle = await client.workflow.start<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId: `${reconcileScheduleId(tenant)}/manual-${Date.now()}`,
    taskQueue: ctx.config.taskQueue,
    args: [input],
    typedSearchAttributes: [{ key: EconomicTenant, value: tenant }],
  });
  const summary = await handle.result();
  return { stdout: formatReconcileSummary(summary) };
}
