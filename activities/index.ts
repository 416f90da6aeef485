// All activities of the sync worker, built from their dependencies (no globals), so tests and the
// worker wire them the same way.
import type { Client } from '@temporalio/client';
import type { Database } from '../src/db/client';
import { CallCounter } from '../src/economic';
import type { SecretBox } from '../src/secrets/secret-box';
import { createAuthenticateActivity } from './authenticate';
import { createCommitActivities } from './commit-entity';
import { createEconomicAccess, type EconomicSettings } from './economic-access';
import { createFetchEntityActivity } from './fetch-entity';
import { withHeartbeats } from './heartbeat';
import { createReconcileActivities } from './reconcile';
import { createResolveDependenciesActivity } from './resolve-dependencies';
import { createSyncStateActivities } from './sync-state';

export interface ActivityDeps {
  db: Database;
  secretBox: SecretBox;
  economic: EconomicSettings;
  /** Counts e-conomic calls per tenant (exported as a metric; e-conomic allows ~50,000 a day). */
  callCounter?: CallCounter;
  /** Reconciliation signals entity workflows: the client and the task queue those run on. */
  temporal?: { client: Client; taskQueue: string };
}

export function createActivities(deps: ActivityDeps) {
  const access = createEconomicAccess({ ...deps, callCounter: deps.callCounter ?? new CallCounter() });
  const withAccess = { db: deps.db, access };
  return {
    ...withHeartbeats({
      ...createAuthenticateActivity(withAccess),
      ...createFetchEntityActivity(withAccess),
      ...createResolveDependenciesActivity(withAccess),
      ...createCommitActivities(withAccess),
      ...createSyncStateActivities(deps),
    }),
    // Reconciliation heartbeats its own resume cursor, so it is not wrapped.
    ...createReconcileActivities({ db: deps.db, access, temporal: deps.temporal }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
