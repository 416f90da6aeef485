// One durable workflow per e-conomic entity: `economic/<tenant>/<kind>/<number>` (docs/temporal.md).
// Webhooks and reconciliation signal-with-start it with a `change` event. It syncs until no change is
// pending, so a burst of events for one entity costs about one fetch, and an event that arrives during a
// sync causes one more sync rather than being lost. Each sync is one `syncEntity` activity (authenticate,
// fetch, resolve dependencies, commit, or mark deleted: activities/sync-entity.ts), its first attempt a
// local activity and its retries an ordinary one (docs/temporal.md, "Local-first sync"); entity data never
// passes through this workflow's history. A sync that fails for good is recorded by a database-only
// activity (with the renumbering it carried, so the entity's next sync applies it); if events arrived
// meanwhile the workflow syncs them (the failed batch's renumbering carried along), else it fails with
// the typed cause. Nothing pending is dropped by a failure. An event sent by a reconciliation run carries
// `replyTo`: when the sync covering it ends, the run is signalled `entityDone` (docs/temporal.md).
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BookkeepingActivities, SyncActivities } from '../activities';
import { isApiSource } from '../src/shared/entities';
import { ENTITY_DONE_SIGNAL, type EntityDone } from '../src/shared/reconcile';
import { CHANGE_SIGNAL, SYNC_STATUS_QUERY, type ChangeEvent, type EntitySyncInput, type EntitySyncResult, type EntitySyncStatus } from '../src/shared/sync-signals';
import { NON_RETRYABLE_TYPES } from '../src/shared/failure-types';
import { BOOKKEEPING_OPTIONS, LOCAL_SYNC_OPTIONS, SYNC_OPTIONS } from './activity-options';

export const changeSignal = defineSignal<[ChangeEvent]>(CHANGE_SIGNAL);
export const syncStatusQuery = defineQuery<EntitySyncStatus>(SYNC_STATUS_QUERY);
export const entityDoneSignal = defineSignal<[EntityDone]>(ENTITY_DONE_SIGNAL);

const sync = proxyActivities<SyncActivities>(SYNC_OPTIONS);
const localSync = proxyLocalActivities<SyncActivities>(LOCAL_SYNC_OPTIONS);
const bookkeeping = proxyActivities<BookkeepingActivities>(BOOKKEEPING_OPTIONS);

/** Workflows started before syncs ran local-first replay their ordinary activities (docs/temporal.md). */
const LOCAL_FIRST_SYNC_PATCH = 'local-first-sync';

/** A run's history grows by roughly six events per sync; a new run starts well before it gets large. */
const DEFAULT_MAX_SYNCS_PER_RUN = 100;

/** Events remembered to drop duplicates (an inbox relay or e-conomic retrying delivery). */
const SEEN_EVENTS_KEPT = 500;

export async function entitySyncWorkflow(input: EntitySyncInput): Promise<EntitySyncResult> {
  const { tenantId, tenant, kind, number } = input;
  const pending: ChangeEvent[] = [...(input.pending ?? [])];
  const seen = new Set(input.seenEventIds ?? []);
  let events = 0;
  let syncs = 0;
  let lastOutcome = 'none';

  setHandler(changeSignal, (event) => {
    if (seen.has(event.eventId)) return;
    seen.add(event.eventId);
    pending.push(event);
    events += 1;
  });
  setHandler(syncStatusQuery, () => ({ pending: pending.length, syncs, events, lastOutcome }));

  while (pending.length > 0) {
    const batch = pending.splice(0, pending.length);
    const renumbering = [...batch].reverse().find((e) => e.oldNumber !== undefined && e.oldNumber !== number);
    const stateHint = [...batch].reverse().find((e) => e.stateHint !== undefined)?.stateHint;
    // For the worker's sync-lag metric: how long the longest-waiting of these events waited to be committed.
    const oldest = batch.reduce((a, e) => (e.receivedAt < a.receivedAt ? e : a));
    // A batch of webhooks' events that renumber nothing needs no fetch when the stored version was fetched
    // after the newest of them arrived (activities/sync-entity.ts); other sources always ask for one.
    const newestWebhookAt = !renumbering && batch.every((e) => isApiSource(e.source)) ? batch.reduce((a, e) => (e.receivedAt > a ? e.receivedAt : a), oldest.receivedAt) : undefined;
    try {
      const result = await syncOnce({ tenantId, tenant, kind, number, oldNumber: renumbering?.oldNumber, stateHint, oldestEvent: { receivedAt: oldest.receivedAt, source: oldest.source }, newestWebhookAt });
      lastOutcome = result.outcome;
      await reportBack(batch, result.outcome);
    } catch (err) {
      const { type, message } = describeFailure(err);
      lastOutcome = 'failed';
      await bookkeeping.recordSyncFailure({ tenantId, tenant, kind, number, errorType: type, error: message, oldNumber: renumbering?.oldNumber });
      await reportBack(batch, 'failed');
      if (pending.length === 0) {
        // Fails the workflow so the Temporal UI shows it as Failed, with the cause's type and message.
        throw ApplicationFailure.create({ message: `sync of ${kind} ${number} for tenant ${tenant} failed: ${message}`, type, nonRetryable: true });
      }
      // Events arrived during the failed sync: sync them, and the renumbering the failed batch carried.
      if (renumbering && !pending.some((e) => e.oldNumber !== undefined && e.oldNumber !== number)) pending.unshift(renumbering);
    }
    syncs += 1;

    if (pending.length > 0 && (syncs >= (input.maxSyncsPerRun ?? DEFAULT_MAX_SYNCS_PER_RUN) || workflowInfo().continueAsNewSuggested)) {
      const seenEventIds = [...seen].slice(-SEEN_EVENTS_KEPT);
      await continueAsNew<typeof entitySyncWorkflow>({ ...input, pending, seenEventIds });
    }
  }
  return { syncs, events, lastOutcome };
}

/**
 * One sync: its first attempt as a local activity; when that fails in a way a retry may heal, the ordinary
 * activity takes over with SYNC_OPTIONS' retries, visible in the Temporal UI as a pending activity.
 */
async function syncOnce(input: Parameters<SyncActivities['syncEntity']>[0]): ReturnType<SyncActivities['syncEntity']> {
  if (!patched(LOCAL_FIRST_SYNC_PATCH)) return sync.syncEntity(input);
  try {
    return await localSync.syncEntity(input);
  } catch (err) {
    if (!retryMayHeal(err)) throw err;
    return sync.syncEntity(input);
  }
}

/**
 * Whether a failed local attempt goes on as an ordinary activity: not for refusals or a cancellation. A
 * local activity's failure reaches the workflow as the activity's own error, not wrapped in an
 * ActivityFailure as an ordinary activity's is; both shapes are read.
 */
function retryMayHeal(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return !cause.nonRetryable && !NON_RETRYABLE_TYPES.includes(cause.type ?? '');
  return !(cause instanceof CancelledFailure);
}

/** Tells each reconciliation run that sent one of the batch's events how its sync ended. */
async function reportBack(batch: ChangeEvent[], outcome: string): Promise<void> {
  const replies = batch.filter((e) => e.replyTo !== undefined);
  // A run that already ended (it stopped waiting at its deadline) is not an error for this entity.
  await Promise.all(
    replies.map((e) =>
      getExternalWorkflowHandle(e.replyTo as string)
        .signal(entityDoneSignal, { eventId: e.eventId, outcome })
        .catch(() => undefined),
    ),
  );
}

function describeFailure(err: unknown): { type: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { type: 'Error', message: String(cause) };
}
