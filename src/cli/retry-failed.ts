// `retry-failed [--tenant <name>]`: starts a new sync for every entity whose last sync failed, through
// the same signal-with-start path webhooks use. Prints how many.
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { syncState, tenants } from '../db/schema';
import { isEntityKind } from '../shared/entities';
import { signalEntityChange } from '../temporal/signal-entity';
import { CliError } from './context';
import { registerCommand } from './registry';

registerCommand('retry-failed', async (ctx, args) => {
  const tenant = typeof args.tenant === 'string' ? args.tenant : undefined;
  if (tenant !== undefined) {
    const [known] = await ctx.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, tenant));
    if (!known) throw new CliError(`no tenant named "${tenant}"`);
  }
  const failed = await ctx.db
    .select({ tenantId: syncState.tenantId, tenant: tenants.name, kind: syncState.kind, number: syncState.number })
    .from(syncState)
    .innerJoin(tenants, eq(tenants.id, syncState.tenantId))
    .where(and(eq(syncState.lastOutcome, 'failed'), tenant === undefined ? sql`true` : eq(tenants.name, tenant)));
  if (failed.length === 0) return { stdout: 'No failed syncs to retry.' };
  const client = await ctx.temporal();
  const receivedAt = new Date().toISOString();
  let started = 0;
  for (const entity of failed) {
    if (!isEntityKind(entity.kind)) continue;
    await signalEntityChange(client, ctx.config.taskQueue, {
      tenantId: entity.tenantId,
      tenant: entity.tenant,
      kind: entity.kind,
      number: entity.number,
      event: { eventId: randomUUID(), source: 'retry-failed', receivedAt },
    });
    started += 1;
  }
  return { stdout: `Started ${started} sync${started === 1 ? '' : 's'} of entities whose last sync failed.` };
});
