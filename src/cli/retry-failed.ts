// `retry-failed [--tenant <name>]`: starts a new sync for every entity whose last sync failed, through
// the same signal-with-start path webhooks use. Prints how many.
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { tenants } from '../db/schema';
import { isEntityKind } from '../shared/entities';
import { entityChange } from '../shared/sync-signals';
import { createEntityStore } from '../store/entity-store';
import { signalEntityChange } from '../temporal/signal-entity';
import { CliError, type CommandContext, type CommandResult } from './context';

export async function retryFailed(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const tenant = typeof args.tenant === 'string' ? args.tenant : undefined;
  if (tenant !== undefined) {
    const [known] = await ctx.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, tenant));
    if (!known) throw new CliError(`no tenant named "${tenant}"`);
  }
  const failed = await createEntityStore(ctx.db).failedSyncs(tenant);
  if (failed.length === 0) return { stdout: 'No failed syncs to retry.' };
  const client = await ctx.temporal();
  const receivedAt = new Date();
  let started = 0;
  for (const entity of failed) {
    if (!isEntityKind(entity.kind)) continue;
    const change = entityChange({ ...entity, kind: entity.kind }, { eventId: randomUUID(), source: 'retry-failed', receivedAt });
    await signalEntityChange(client, ctx.config.taskQueue, change);
    started += 1;
  }
  return { stdout: `Started ${started} sync${started === 1 ? '' : 's'} of entities whose last sync failed.` };
}
