// The first vertical slice: a workflow started through the Temporal client, on the real dev server,
// runs an activity that writes through Drizzle to a real Postgres database.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { syncState, tenants } from '../src/db/schema';
import { entityWorkflowId } from '../src/shared/entities';
import type { LocalTemporal } from '../src/temporal/dev-server';
import { changeSignal, entitySyncWorkflow } from '../workflows/entity-sync';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { startTestTemporal, startTestWorker, uniqueTaskQueue } from './helpers/temporal';

let temporal: LocalTemporal;
let database: TestDatabase;

before(async () => {
  [temporal, database] = await Promise.all([startTestTemporal(), createTestDatabase()]);
});

after(async () => {
  await temporal?.shutdown();
  await database?.drop();
});

test('a signalled entity workflow records its sync in Postgres through an activity', async () => {
  const [tenant] = await database.db.insert(tenants).values({ name: 'slice' }).returning();
  assert.ok(tenant);
  const taskQueue = uniqueTaskQueue();
  const worker = await startTestWorker(temporal, { db: database.db }, taskQueue);
  try {
    const workflowId = entityWorkflowId('slice', 'order', 42);
    const handle = await temporal.env.client.workflow.signalWithStart(entitySyncWorkflow, {
      workflowId,
      taskQueue,
      args: [{ tenantId: tenant.id, tenant: 'slice', kind: 'order', number: 42 }],
      signal: changeSignal,
      signalArgs: [{ eventId: 'e1', source: 'eConomicOrder', receivedAt: new Date().toISOString() }],
    });
    const result = await handle.result();
    assert.equal(result.events, 1);
    assert.equal(result.syncs, 1);

    const rows = await database.db
      .select()
      .from(syncState)
      .where(and(eq(syncState.tenantId, tenant.id), eq(syncState.kind, 'order'), eq(syncState.number, 42)));
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.lastOutcome, 'synced');
    assert.equal(rows[0]?.workflowId, workflowId);
  } finally {
    await worker.stop();
  }
});
