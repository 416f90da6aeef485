// The activity groups: each activity belongs to exactly one group, the worker registers them all, and a
// workflow proxy of one group does not type-check a call of another group's activity (checked by
// `npm run typecheck` through the @ts-expect-error lines below: they fail the build if the call compiles).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import {
  createActivities,
  createBookkeepingActivities,
  createDeliveryBookkeeping,
  createDeliveryGroup,
  createReconciliationActivities,
  createSyncActivities,
  type ActivityDeps,
  type BookkeepingActivities,
  type SyncActivities,
} from '../activities';

// Building the groups touches none of their dependencies; no activity runs here.
const deps = { db: {}, secretBox: {}, economic: { restUrl: '', projectsUrl: '', appSecretToken: '' } } as unknown as ActivityDeps;

test('every activity is in exactly one group, and the worker registers all of them', () => {
  const groups = [
    createSyncActivities(deps),
    createBookkeepingActivities(deps),
    createReconciliationActivities(deps),
    createDeliveryGroup(deps),
    createDeliveryBookkeeping(deps),
  ].map((g) => Object.keys(g).sort());
  assert.deepEqual(groups, [['syncEntity'], ['beginReconcile', 'finishReconcile', 'recordSyncFailure'], ['reconcileScope'], ['deliverChanges'], ['deadLetterChange']]);
  assert.deepEqual(Object.keys(createActivities(deps)).sort(), groups.flat().sort());
});

test('a proxy of one group does not offer another group\'s activities', () => {
  // What proxyActivities<Group>(options) returns inside a workflow.
  const calls = (sync: ActivityInterfaceFor<SyncActivities>, bookkeeping: ActivityInterfaceFor<BookkeepingActivities>): unknown[] => {
    // @ts-expect-error syncEntity calls e-conomic: it is not database-only bookkeeping.
    const wrongPolicy: unknown = bookkeeping.syncEntity;
    // @ts-expect-error recordSyncFailure is bookkeeping: it must not run under e-conomic's bounded retries.
    const boundedRetries: unknown = sync.recordSyncFailure;
    return [wrongPolicy, boundedRetries];
  };
  assert.equal(typeof calls, 'function');
});
