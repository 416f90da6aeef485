// `status [--tenant <name>]`: per tenant and entity kind, rows (live and deleted), last sync and
// failures, plus each tenant's credential state.
import { getTableName, sql } from 'drizzle-orm';
import { queryRows } from '../db/client';
import { ENTITY_KINDS } from '../shared/entities';
import { TENANT_SCOPE } from '../shared/reconcile';
import { KIND_TABLES } from '../sync/commit';
import { CliError } from './context';
import { registerCommand } from './registry';
import { formatTable } from './table';

/** Each entity kind with the name of its table, from the sync's own mapping. */
const KIND_TABLE_NAMES: Array<[kind: string, table: string]> = ENTITY_KINDS.map((kind) => [kind, getTableName(KIND_TABLES[kind].table)]);

interface StatusRow extends Record<string, unknown> {
  tenant: string;
  credentials: string | null;
  kind: string;
  rows: number;
  deleted: number;
  last_sync: Date | string | null;
  failed: number;
}

registerCommand('status', async (ctx, args) => {
  const tenant = typeof args.tenant === 'string' ? args.tenant : undefined;
  const tenantFilter = tenant === undefined ? sql`true` : sql`t.name = ${tenant}`;
  const perKind = sql.join(
    KIND_TABLE_NAMES.map(
      ([kind, table]) =>
        sql`select tenant_id, ${kind}::text as kind, count(*) filter (where deleted_at is null)::int as rows,
                   count(*) filter (where deleted_at is not null)::int as deleted, max(synced_at) as last_sync
              from ${sql.identifier(table)} group by tenant_id`,
    ),
    sql` union all `,
  );
  const list = await queryRows<StatusRow>(
    ctx.db,
    sql`with kinds(kind) as (values ${sql.join(KIND_TABLE_NAMES.map(([kind]) => sql`(${kind}::text)`), sql`, `)}),
             counts as (${perKind}),
             failures as (select tenant_id, kind, count(*)::int as failed from sync_state where last_outcome = 'failed' group by tenant_id, kind)
        select t.name as tenant, c.status as credentials, k.kind,
               coalesce(n.rows, 0) as rows, coalesce(n.deleted, 0) as deleted, n.last_sync, coalesce(f.failed, 0) as failed
          from tenants t
          cross join kinds k
          left join tenant_credentials c on c.tenant_id = t.id
          left join counts n on n.tenant_id = t.id and n.kind = k.kind
          left join failures f on f.tenant_id = t.id and f.kind = k.kind
         where ${tenantFilter}
         order by t.name, k.kind`,
  );
  if (list.length === 0) {
    if (tenant !== undefined) throw new CliError(`no tenant named "${tenant}"`);
    return { stdout: 'No tenants yet: create one with `access create --tenant <name>`.' };
  }
  const syncs = formatTable(
    ['tenant', 'credentials', 'kind', 'rows', 'deleted', 'last sync', 'failures'],
    list.map((r) => [
      r.tenant,
      r.credentials ?? 'none',
      r.kind,
      String(r.rows),
      String(r.deleted),
      r.last_sync ? new Date(r.last_sync).toISOString() : '-',
      String(r.failed),
    ]),
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
  return { stdout: reconciled.length === 0 ? `${syncs}\n\nno reconciliation yet` : `${syncs}\n\n${reconcileTable}` };
});
