// `status [--tenant <name>]`: per tenant and entity kind, rows, last sync and failures.
import { sql } from 'drizzle-orm';
import { queryRows } from '../db/client';
import { TENANT_SCOPE } from '../shared/reconcile';
import { CliError } from './context';
import { registerCommand } from './registry';
import { formatTable } from './table';

registerCommand('status', async (ctx, args) => {
  const tenant = typeof args.tenant === 'string' ? args.tenant : undefined;
  const list = await queryRows<{
    tenant: string;
    kind: string;
    synced: number;
    deleted: number;
    failed: number;
    last_sync: Date | string | null;
  }>(ctx.db, sql`
    select t.name as tenant, s.kind,
           count(*) filter (where s.last_outcome = 'synced')::int as synced,
           count(*) filter (where s.last_outcome = 'deleted')::int as deleted,
           count(*) filter (where s.last_outcome = 'failed')::int as failed,
           max(s.last_success_at) as last_sync
      from tenants t
      join sync_state s on s.tenant_id = t.id
     where ${tenant === undefined ? sql`true` : sql`t.name = ${tenant}`}
     group by t.name, s.kind
     order by t.name, s.kind`);
  if (tenant !== undefined && list.length === 0) {
    const known = await queryRows(ctx.db, sql`select 1 from tenants where name = ${tenant}`);
    if (known.length === 0) throw new CliError(`no tenant named "${tenant}"`);
  }
  const table = formatTable(
    ['tenant', 'kind', 'synced', 'deleted', 'failed', 'last sync'],
    list.map((r) => [r.tenant, r.kind, String(r.synced), String(r.deleted), String(r.failed), r.last_sync ? new Date(r.last_sync).toISOString() : '-']),
  );
  const reconciled = await queryRows<{
    tenant: string;
    scope: string;
    watermark: Date | string | null;
    last_run_at: Date | string | null;
    last_full_run_at: Date | string | null;
    last_summary: Record<string, unknown> | null;
  }>(ctx.db, sql`
    select t.name as tenant, r.scope, r.watermark, r.last_run_at, r.last_full_run_at, r.last_summary
      from tenants t
      join reconcile_state r on r.tenant_id = t.id
     where ${tenant === undefined ? sql`true` : sql`t.name = ${tenant}`}
     order by t.name, (r.scope <> ${TENANT_SCOPE}), r.scope`);
  const instant = (v: Date | string | null) => (v ? new Date(v).toISOString() : '-');
  const result = (summary: Record<string, unknown> | null) =>
    summary ? `${Number(summary.checked ?? 0)} checked, ${Number(summary.signalled ?? 0)} synced, ${Number(summary.deleted ?? 0)} deleted` : '-';
  const reconcileTable = formatTable(
    ['tenant', 'reconciliation', 'watermark', 'last run', 'last full run', 'last result'],
    reconciled.map((r) => [r.tenant, r.scope === TENANT_SCOPE ? '(tenant)' : r.scope, instant(r.watermark), instant(r.last_run_at), instant(r.last_full_run_at), result(r.last_summary)]),
  );
  const syncs = list.length === 0 ? 'no syncs yet' : table;
  return { stdout: reconciled.length === 0 ? `${syncs}\n\nno reconciliation yet` : `${syncs}\n\n${reconcileTable}` };
});
