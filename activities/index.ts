// The activities of the sync worker in four groups, each built by its own factory from injected
// dependencies (no globals), so tests and the worker wire them the same way. A workflow proxies each group
// with that group's retry policy (workflows/activity-options.ts), so calling an activity under the wrong
// policy does not compile:
//   - sync: `syncEntity`, which talks to e-conomic (bounded attempts, Retry-After, non-retryable types);
//   - bookkeeping: database-only records (retried until Postgres answers, and only then:
//     ./database-failure.ts fails any other error at once);
//   - reconciliation: `reconcileScope`, long listings that heartbeat their own resume cursor (a kind
//     e-conomic answers 403 for is skipped: ./forbidden-kinds.ts);
//   - delivery: `deliverChanges`, the change feed's outbound webhooks (retried with backoff up to the
//     delivery workflow's attempt limit), and its `deadLetterChange` bookkeeping.
import type { Database } from '../src/db/client';
import { CallCounter } from '../src/economic';
import type { SecretBox } from '../src/secrets/secret-box';
import { createEntityStore, type EntityStore } from '../src/store/entity-store';
import { createSubscriberStore } from '../src/store/change-subscribers';
import { createReconcileStore } from '../src/store/reconcile-store';
import { retryingOnlyDatabaseOutages, withDatabaseFailures } from './database-failure';
import { createEconomicAccess, type EconomicSettings } from './economic-access';
import { skippingForbiddenKinds } from './forbidden-kinds';
import { withHeartbeats } from './heartbeat';
import { createDeadLetterActivity, createDeliveryActivities } from './deliver-changes';
import { createReconcileActivities, createReconcileBookkeeping, type EntityWorkflows } from './reconcile';
import { createRecordSyncFailureActivity } from './record-sync-failure';
import { createSyncEntityActivity, type SyncCommitted } from './sync-entity';

export type { EntityWorkflows } from './reconcile';

export interface ActivityDeps {
  db: Database;
  secretBox: SecretBox;
  economic: EconomicSettings;
  /** Counts e-conomic calls per tenant (exported as a metric; e-conomic allows ~50,000 a day). */
  callCounter?: CallCounter;
  /** How reconciliation reaches entity workflows; given by the composition root (src/temporal/signal-entity.ts). */
  entities?: EntityWorkflows;
  /**
   * The entity store of the sync and bookkeeping groups; by default one on `db`. Tests wrap the real store
   * to hold a sync at a chosen point (between fetch and commit) while they change e-conomic.
   */
  entityStore?: EntityStore;
  /** Outbound change webhooks: a POST not answered within this fails (default 10 s). */
  deliveryRequestTimeoutMs?: number;
  /** Told of every entity sync that brought its entity up to date, with its lag (exported as a metric). */
  onSyncCommitted?: SyncCommitted;
}

const entityStoreOf = (deps: Pick<ActivityDeps, 'db' | 'entityStore'>) => deps.entityStore ?? createEntityStore(deps.db);

function accessOf(deps: ActivityDeps) {
  return createEconomicAccess({ ...deps, callCounter: deps.callCounter ?? new CallCounter() });
}

/** The entity sync: one activity task per sync in the normal case. */
export function createSyncActivities(deps: ActivityDeps) {
  return withHeartbeats(withDatabaseFailures(createSyncEntityActivity({ store: entityStoreOf(deps), access: accessOf(deps), onCommitted: deps.onSyncCommitted })));
}

/** Database-only work of both workflows. */
export function createBookkeepingActivities(deps: Pick<ActivityDeps, 'db' | 'entityStore'>) {
  return withHeartbeats(
    retryingOnlyDatabaseOutages({
      ...createRecordSyncFailureActivity({ store: entityStoreOf(deps) }),
      ...createReconcileBookkeeping({ reconcileStore: createReconcileStore(deps.db) }),
    }),
  );
}

/**
 * Reconciliation's listings; they heartbeat their own resume cursor, so they get no heartbeat wrapper,
 * only the database errors' types (an outage retries, a refused statement does not).
 */
export function createReconciliationActivities(deps: ActivityDeps) {
  const access = accessOf(deps);
  return withDatabaseFailures(
    skippingForbiddenKinds(
      deps.db,
      access,
      createReconcileActivities({
        store: createEntityStore(deps.db),
        reconcileStore: createReconcileStore(deps.db),
        access,
        entities: deps.entities,
      }),
    ),
  );
}

/**
 * The change feed's outbound delivery. `deliverChanges` heartbeats itself (it polls while idle); database
 * errors get their types, so an outage is retried like a refused POST.
 */
export function createDeliveryGroup(deps: Pick<ActivityDeps, 'db' | 'secretBox' | 'deliveryRequestTimeoutMs'>) {
  return withDatabaseFailures(createDeliveryActivities({ secretBox: deps.secretBox, requestTimeoutMs: deps.deliveryRequestTimeoutMs, subscribers: createSubscriberStore(deps.db) }));
}

/** Dead-lettering a change: bookkeeping (retried until Postgres answers). */
export function createDeliveryBookkeeping(deps: Pick<ActivityDeps, 'db'>) {
  return withHeartbeats(retryingOnlyDatabaseOutages(createDeadLetterActivity({ subscribers: createSubscriberStore(deps.db) })));
}

export type DeliveryActivities = ReturnType<typeof createDeliveryGroup>;
export type DeliveryBookkeepingActivities = ReturnType<typeof createDeliveryBookkeeping>;
export type SyncActivities = ReturnType<typeof createSyncActivities>;
export type BookkeepingActivities = ReturnType<typeof createBookkeepingActivities>;
export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;

/** Every group, for the worker to register. */
export function createActivities(deps: ActivityDeps): SyncActivities & BookkeepingActivities & ReconciliationActivities & DeliveryActivities & DeliveryBookkeepingActivities {
  return {
    ...createSyncActivities(deps),
    ...createBookkeepingActivities(deps),
    ...createReconciliationActivities(deps),
    ...createDeliveryGroup(deps),
    ...createDeliveryBookkeeping(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
