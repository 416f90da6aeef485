// All activities of the sync worker, built from their dependencies (no globals), so tests and the
// worker wire them the same way.
import type { Database } from '../src/db/client';
import { createSyncStateActivities } from './sync-state';

export interface ActivityDeps {
  db: Database;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSyncStateActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
