// A worker killed (SIGKILL) in the middle of a burst, then restarted: every entity ends up committed,
// exactly as e-conomic holds it, nothing lost and nothing doubled.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { eq, sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client';
import { economicOrders, syncState } from '../src/db/schema';
import { entityWorkflowId } from '../src/shared/entities';
import type { entitySyncWorkflow } from '../workflows/entity-sync';
import { documentLines } from './helpers/rows';
import { waitFor } from './helpers/wait';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';
import { startWorkerProcess } from './helpers/worker-process';

let h: SyncHarness;
let tenant: TestTenant;

before(async () => {
  h = await startSyncHarness();
  tenant = await h.createTenant('crashy');
});

after(async () => {
  await h?.close();
});

test('the worker killed mid-burst and restarted: every entity committed once, nothing lost', async () => {
  const env = h.workerProcessEnv;
  const customers = Array.from({ length: 5 }, (_, i) => tenant.agreement.upsertCustomer({ name: `Kunde ${i}`, currency: 'DKK' }));
  const orders = Array.from({ length: 40 }, (_, i) =>
    tenant.agreement.createOrder({
      customerNumber: customers[i % customers.length]!,
      lines: Array.from({ length: 1 + (i % 4) }, (_, l) => ({ description: `linje ${l}`, quantity: l + 1, unitNetPrice: 100 })),
    }),
  );
  // Slow e-conomic down a little so the kill lands while work is in flight.
  h.fake.faults.inject({ agreement: tenant.grantToken, path: '/orders', times: 10, kind: '503' });

  const first = await startWorkerProcess(env);
  for (let round = 0; round < 3; round += 1) {
    await Promise.all(orders.map((n) => h.signal(tenant, 'order', n, { source: 'eConomicOrder' })));
  }
  await waitFor('some entities synced before the kill', async () => {
    const [row] = await queryRows<{ n: number }>(h.database.db, sql`select count(*)::int as n from sync_state where last_outcome = 'synced'`);
    return row && row.n >= 5 ? row.n : undefined;
  });
  await first.kill();

  const second = await startWorkerProcess(env);
  try {
    for (const n of orders) {
      const handle = h.temporal.env.client.workflow.getHandle<typeof entitySyncWorkflow>(entityWorkflowId(tenant.name, 'order', n));
      // A failed workflow names its cause (the worker process's own logs do not reach this output).
      const result = await handle.result().catch((err: unknown) => assert.fail(`order ${n}: ${describe(err)}`));
      // `covered`: the killed worker's sync committed after fetching past these webhooks, and the
      // restarted worker's sync found that (docs/temporal.md, "Webhooks a fetch already covered").
      assert.ok(result.lastOutcome === 'synced' || result.lastOutcome === 'covered', `order ${n}: ${result.lastOutcome}`);
    }
  } finally {
    await second.stop();
  }

  const rows = await h.database.db.select().from(economicOrders).where(eq(economicOrders.tenantId, tenant.id));
  assert.equal(rows.length, orders.length);
  for (const n of orders) {
    const lines = await documentLines(h.database.db, tenant.id, 'order', n);
    assert.equal(lines.length, 1 + (orders.indexOf(n) % 4), `lines of order ${n}`);
  }
  const states = await h.database.db.select().from(syncState).where(eq(syncState.tenantId, tenant.id));
  assert.equal(states.filter((s) => s.lastOutcome === 'synced').length, orders.length);
});

function describe(err: unknown): string {
  if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) return `${err.cause.type ?? 'Error'}: ${err.cause.message}`;
  return String(err);
}
