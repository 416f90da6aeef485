// One durable workflow per e-conomic entity: `economic/<tenant>/<kind>/<number>`. Webhooks and
// reconciliation signal-with-start it with a `change` event. It syncs until no change is pending, so a
// burst of events for one entity costs about one fetch, and an event that arrives during a sync causes
// one more sync rather than being lost. Each sync: authenticate, fetch, resolve what the entity depends
// on (customer, project), commit; or mark it deleted when e-conomic no longer has it.
import {
  ActivityFailure,
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { FAILURE_TYPES, NON_RETRYABLE_TYPES } from '../src/shared/failure-types';
import { CHANGE_SIGNAL, type ChangeEvent, type EntitySyncInput } from '../src/shared/sync-signals';

export const changeSignal = defineSignal<[ChangeEvent]>(CHANGE_SIGNAL);
export const syncStatusQuery = defineQuery<EntitySyncStatus>('status');

export interface EntitySyncStatus {
  pending: number;
  syncs: number;
  events: number;
  lastOutcome?: string;
}

export interface EntitySyncResult {
  syncs: number;
  events: number;
  lastOutcome: string;
}

// Calls to e-conomic: transient errors back off up to 2 minutes apart, 429 waits Retry-After (set by
// the activity as nextRetryDelay). After ~30 attempts (about an hour) the sync fails visibly and
// `retry-failed` or the next event starts it again.
// Activities heartbeat while they run (activities/heartbeat.ts): a killed worker's work is retried
// elsewhere after the heartbeat timeout, not after the start-to-close timeout.
const economic = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 30, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
});

// Database-only work: retried until Postgres is back (a database outage must lose nothing).
const database = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** A run's history grows by roughly ten events per sync; a new run starts well before it gets large. */
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

  const ref = { tenantId, tenant };
  const workflowId = workflowInfo().workflowId;

  while (pending.length > 0) {
    const batch = pending.splice(0, pending.length);
    const renumbering = [...batch].reverse().find((e) => e.oldNumber !== undefined && e.oldNumber !== number);
    const stateHint = [...batch].reverse().find((e) => e.stateHint !== undefined)?.stateHint;
    try {
      await economic.authenticate(ref);
      lastOutcome = await syncOnce(renumbering?.oldNumber, stateHint);
      await database.recordSyncOutcome({ tenantId, kind, number, workflowId, outcome: lastOutcome === 'deleted' ? 'deleted' : 'synced' });
    } catch (err) {
      const { type, message } = describeFailure(err);
      lastOutcome = 'failed';
      await database.recordSyncOutcome({ tenantId, kind, number, workflowId, outcome: 'failed', errorType: type, error: message });
      // Fails the workflow so the Temporal UI shows it as Failed, with the cause's type and message.
      throw ApplicationFailure.create({ message: `sync of ${kind} ${number} for tenant ${tenant} failed: ${message}`, type, nonRetryable: true });
    }
    syncs += 1;

    if (pending.length > 0 && (syncs >= (input.maxSyncsPerRun ?? DEFAULT_MAX_SYNCS_PER_RUN) || workflowInfo().continueAsNewSuggested)) {
      const seenEventIds = [...seen].slice(-SEEN_EVENTS_KEPT);
      await continueAsNew<typeof entitySyncWorkflow>({ ...input, pending, seenEventIds });
    }
  }
  return { syncs, events, lastOutcome };

  async function syncOnce(oldNumber: number | undefined, stateHint: ChangeEvent['stateHint']): Promise<string> {
    const fetched = await economic.fetchEntity({ ...ref, kind, number, oldNumber, stateHint });
    if (!fetched.found) {
      const outcome = await database.markDeleted({ tenantId, kind, number, fetchedAt: fetched.fetchedAt });
      return outcome === 'deleted' ? 'deleted' : outcome;
    }
    if (fetched.dependencies.length > 0) {
      const resolved = await economic.resolveDependencies({ ...ref, dependencies: fetched.dependencies, referencedAt: fetched.record.lastUpdated });
      if (resolved.missing.length > 0) {
        const names = resolved.missing.map((d) => `${d.kind} ${d.number}`).join(', ');
        throw ApplicationFailure.nonRetryable(`${kind} ${number} references ${names}, which e-conomic does not have`, FAILURE_TYPES.dependencyMissing);
      }
    }
    const committed = await database.commitEntity({ tenantId, record: fetched.record, renumberedFrom: fetched.renumberedFrom });
    if (kind === 'booked-invoice' && committed === 'written' && fetched.record.customerNumber != null) {
      const { customerNumber, netAmount, currency } = fetched.record;
      await economic.recheckDraftInvoices({ ...ref, customerNumber, netAmount, currency });
    }
    return committed === 'written' ? 'synced' : 'stale';
  }
}

function describeFailure(err: unknown): { type: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { type: 'Error', message: String(cause) };
}
