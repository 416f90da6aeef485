// The entity store on a real Postgres database: a sync's dependencies, entity and outcome commit in one
// transaction or not at all, and transactions that share entities wait for each other instead of
// deadlocking, whatever order their records come in. A reconciliation's "not listed any more" rows are
// found in linear time, whatever Postgres's statistics say.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq, sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client';
import { economicCustomers, economicOrders, syncState, tenants } from '../src/db/schema';
import { createEntityStore, unseenRowsQuery, type EntityStore } from '../src/store/entity-store';
import { customerRecord, documentRecord } from '../src/sync/entity-record';
import { createTestDatabase, type TestDatabase } from './helpers/database';

let database: TestDatabase;
let store: EntityStore;
let tenantId: number;

before(async () => {
  database = await createTestDatabase();
  store = createEntityStore(database.db);
  const [row] = await database.db.insert(tenants).values({ name: 'store' }).returning();
  tenantId = row!.id;
});

after(async () => {
  await database?.drop();
});

const customer = (number: number, name: string, fetchedAt = new Date().toISOString()) =>
  customerRecord({ customerNumber: number, name, currency: 'DKK', lastUpdated: fetchedAt }, fetchedAt);

const order = (number: number, customerNumber: number, projectNumber?: number) =>
  documentRecord(
    'order',
    number,
    { orderNumber: number, date: '2026-01-05', customer: { customerNumber }, ...(projectNumber ? { project: { projectNumber } } : {}), currency: 'DKK', netAmount: 10, grossAmount: 12.5, lines: [{ lineNumber: 1, description: 'x' }] },
    new Date().toISOString(),
    'drafts',
  );

test('dependencies, entity and outcome commit together: one transaction, in the order given', async () => {
  const outcomes = await store.commit(tenantId, [customer(1, 'Først'), order(10, 1)], { sync: { workflowId: 'economic/store/order/10' } });
  assert.deepEqual(outcomes, ['written', 'written']);
  const [state] = await database.db.select().from(syncState).where(and(eq(syncState.tenantId, tenantId), eq(syncState.number, 10)));
  assert.equal(state?.lastOutcome, 'synced');
  assert.equal(state?.workflowId, 'economic/store/order/10');
});

test('a failing entity leaves none of its dependencies and no outcome behind, and its error quotes no data', async () => {
  // Project 999 exists nowhere: the order's foreign key fails after its customer was written.
  await assert.rejects(store.commit(tenantId, [customer(2, 'Forgæves'), order(20, 2, 999)], { sync: { workflowId: 'economic/store/order/20' } }), (err: Error) => {
    // A constraint violation is its own failure type: no retry of the same records heals it.
    assert.equal(err.name, 'IntegrityViolation');
    assert.equal((err as Error & { code?: string }).code, '23503');
    assert.match(err.message, /violates foreign key constraint/);
    // Told without the statement's parameters: no entity data in a failure (it reaches Temporal's history).
    assert.doesNotMatch(err.message, /Forgæves|params|"lines"/);
    return true;
  });
  assert.equal((await database.db.select().from(economicCustomers).where(eq(economicCustomers.customerNumber, 2))).length, 0);
  assert.equal((await database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, 20))).length, 0);
  assert.equal((await database.db.select().from(syncState).where(eq(syncState.number, 20))).length, 0);
});

test('commits sharing entities in opposite orders wait for each other and never deadlock', async () => {
  // Each round, two transactions write customers 100 and 101 in opposite orders at the same moment: with
  // row locks taken in record order this deadlocks (Postgres aborts one with 40P01) within a few rounds.
  for (let round = 0; round < 40; round += 1) {
    const a = customer(100, `a${round}`);
    const b = customer(101, `b${round}`);
    const results = await Promise.allSettled([store.commit(tenantId, [a, b]), store.commit(tenantId, [{ ...b }, { ...a }])]);
    for (const result of results) assert.equal(result.status, 'fulfilled', result.status === 'rejected' ? String(result.reason) : '');
  }
});

test('a renumbering swap committed from both sides at once: the two transactions wait for each other, never deadlock', async () => {
  await store.commit(tenantId, [customer(700, 'Bytte'), order(701, 700), order(702, 700)]);
  // Each round, 701 is committed as renumbered from 702 and 702 as renumbered from 701, at the same moment:
  // both take the locks of 701 and 702, in the same order.
  for (let round = 0; round < 30; round += 1) {
    const results = await Promise.allSettled([
      store.commit(tenantId, [order(701, 700)], { renumberedFrom: 702 }),
      store.commit(tenantId, [order(702, 700)], { renumberedFrom: 701 }),
    ]);
    for (const result of results) assert.equal(result.status, 'fulfilled', result.status === 'rejected' ? String(result.reason) : '');
  }
});

test('a customer renumbered while orders referencing it commit: never a deadlock, at most a foreign-key violation to fetch again', async () => {
  let current = 800;
  await store.commit(tenantId, [customer(current, 'Flytter'), ...[801, 802, 803, 804].map((n) => order(n, current))]);
  let violations = 0;
  for (let round = 0; round < 30; round += 1) {
    const next = 10_000 + round;
    // The renumbering cascades into the orders' rows while each order's own commit checks its reference.
    const results = await Promise.allSettled([
      store.commit(tenantId, [customer(next, 'Flytter')], { renumberedFrom: current }),
      ...[801, 802, 803, 804].map((n) => store.commit(tenantId, [order(n, current)])),
    ]);
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      const err = result.reason as Error & { code?: string };
      // An order committed just after the renumbering names a customer number that is gone: the sync fetches again.
      assert.equal(err.code, '23503', String(err));
      violations += 1;
    }
    assert.equal(results[0]?.status, 'fulfilled', 'the renumbering itself always commits');
    current = next;
  }
  const rows = await database.db.select().from(economicOrders).where(eq(economicOrders.tenantId, tenantId));
  assert.ok(rows.filter((r) => r.orderNumber > 800 && r.orderNumber < 805).every((r) => r.customerNumber === current), 'every order follows the customer');
  assert.ok(violations <= 4 * 30);
});

/** Every node of an EXPLAIN (FORMAT JSON) plan, sub-plans included. */
function planNodes(node: Record<string, unknown>): Array<Record<string, unknown>> {
  const children = (node.Plans as Array<Record<string, unknown>> | undefined) ?? [];
  return [node, ...children.flatMap(planNodes)];
}

test("a full run's rows that e-conomic no longer lists are found by one primary-key probe of reconcile_seen per row, whatever the statistics", async () => {
  const [row] = await database.db.insert(tenants).values({ name: 'store-unseen' }).returning();
  const tenant = row!.id;
  // Written just now, like a run's seen rows: no statistics describe them yet.
  await database.db.execute(sql`insert into economic_orders (tenant_id, data, order_number, status) select ${tenant}, '{}'::jsonb, g, 'archived' from generate_series(1, 2000) g`);
  await database.db.execute(sql`insert into reconcile_seen (tenant_id, run_id, scope, number) select ${tenant}, 'run-1', 'order:archived', g from generate_series(1, 2000) g where g % 200 <> 0`);
  const q = { kind: 'order' as const, runId: 'run-1', scope: 'order:archived', status: 'archived' as const };
  const unseen = [200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000];
  assert.equal(await store.countUnseenRows(tenant, q), unseen.length);
  assert.deepEqual(await store.unseenRows(tenant, { ...q, after: 0, limit: 500 }), unseen);
  assert.deepEqual(await store.unseenRows(tenant, { ...q, after: 1000, limit: 3 }), [1200, 1400, 1600]);

  // An anti-join planned on one-row estimates is a nested loop over all the run's seen rows per stored row
  // (quadratic: 20,000 rows took minutes); the probe is linear.
  const [explained] = await queryRows<{ 'QUERY PLAN': Array<{ Plan: Record<string, unknown> }> }>(
    database.db,
    sql`explain (format json) ${unseenRowsQuery(database.db, tenant, { ...q, after: 0, limit: 500 })}`,
  );
  const nodes = planNodes(explained!['QUERY PLAN'][0]!.Plan);
  assert.ok(!nodes.some((n) => n['Join Type'] === 'Anti'), `no anti-join: ${JSON.stringify(nodes.map((n) => n['Node Type']))}`);
  const probe = nodes.find((n) => n['Relation Name'] === 'reconcile_seen');
  assert.ok(probe, 'reconcile_seen is read');
  assert.equal(probe['Parent Relationship'], 'SubPlan');
  assert.match(String(probe['Index Cond']), /number = /, 'looked up by number, not scanned');
});
