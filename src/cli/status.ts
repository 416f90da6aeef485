// `status [--tenant <name>]`: per tenant and entity kind, rows, last sync and failures.
import { sql } from 'drizzle-orm';
import { queryRows } from '../db/client';
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
  return { stdout: list.length === 0 ? 'no syncs yet' : table };
});
