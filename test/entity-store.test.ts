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
import { customerRecord, documentRecord, projectRecord } from '../src/sync/entity-record';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { countingDatabase } from './helpers/statement-counter';

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

test("commitMany (the bulk lane's commit) leaves what committing each group on its own leaves: rows, lines, outcomes, sync_state, change feed", async () => {
  // Two tenants get the same records: one through commitMany, one group at a time through commit.
  const tenantIds: number[] = [];
  for (const name of ['many', 'one-by-one']) {
    const [row] = await database.db.insert(tenants).values({ name: `store-${name}` }).returning();
    tenantIds.push(row!.id);
  }
  const [many, oneByOne] = tenantIds as [number, number];
  const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 8, minute)).toISOString();
  const doc = (kind: 'order' | 'quote', number: number, customerNumber: number, o: { projectNumber?: number; lastUpdated: string; fetchedAt: string; lines: number; amount?: number }) =>
    documentRecord(
      kind,
      number,
      {
        [kind === 'order' ? 'orderNumber' : 'quoteNumber']: number,
        date: '2026-11-01',
        customer: { customerNumber },
        ...(o.projectNumber ? { project: { projectNumber: o.projectNumber } } : {}),
        currency: 'DKK',
        netAmount: o.amount ?? 100,
        grossAmount: (o.amount ?? 100) * 1.25,
        lastUpdated: o.lastUpdated,
        lines: Array.from({ length: o.lines }, (_, i) => ({ lineNumber: i + 1, description: `linje ${i + 1}`, quantity: i + 1, unitNetPrice: 10 })),
      },
      o.fetchedAt,
      'drafts',
    );
  const cust = (number: number, name: string, minute: number) => customerRecord({ customerNumber: number, name, currency: 'DKK', lastUpdated: at(minute) }, at(minute));
  const sync = (kind: string, number: number) => ({ workflowId: `economic/store/${kind}/${number}` });

  // Round 1: new rows; customer 1 is one record object shared by two groups.
  const c1 = cust(1, 'Fælles', 1);
  const round1 = [
    { records: [c1, doc('order', 100, 1, { lastUpdated: at(1), fetchedAt: at(2), lines: 2 })], sync: sync('order', 100) },
    { records: [c1, doc('order', 101, 1, { lastUpdated: at(1), fetchedAt: at(2), lines: 3 })], sync: sync('order', 101) },
    {
      records: [cust(2, 'Bygherre', 1), projectRecord({ number: 5, name: 'Tag', customerNumber: 2, lastUpdated: at(1) }, at(2)), doc('order', 102, 2, { projectNumber: 5, lastUpdated: at(3), fetchedAt: at(4), lines: 1 })],
      sync: sync('order', 102),
    },
    { records: [c1, doc('quote', 200, 1, { lastUpdated: at(1), fetchedAt: at(2), lines: 1 })], sync: sync('quote', 200) },
    { records: [c1, doc('order', 103, 1, { lastUpdated: at(1), fetchedAt: at(2), lines: 1 })], sync: sync('order', 103) },
  ];
  // Round 2, later: 100 unchanged (a refresh, no change), 101 changed (lines and amount), 102 an older
  // version than stored (stale), customer 1 renamed, 103 back after it was marked deleted.
  const round2 = [
    { records: [doc('order', 100, 1, { lastUpdated: at(1), fetchedAt: at(10), lines: 2 })], sync: sync('order', 100) },
    { records: [cust(1, 'Fælles ApS', 9), doc('order', 101, 1, { lastUpdated: at(8), fetchedAt: at(10), lines: 1, amount: 250 })], sync: sync('order', 101) },
    { records: [doc('order', 102, 2, { projectNumber: 5, lastUpdated: at(2), fetchedAt: at(10), lines: 4 })], sync: sync('order', 102) },
    { records: [doc('order', 103, 1, { lastUpdated: at(1), fetchedAt: at(12), lines: 2 })], sync: sync('order', 103) },
  ];

  const outcomesMany = [await store.commitMany(many, round1)];
  const first = [];
  for (const g of round1) first.push(await store.commit(oneByOne, g.records, { sync: g.sync }));
  const outcomesOne = [first];
  for (const id of tenantIds) await store.markDeleted(id, 'order', 103, at(11));
  outcomesMany.push(await store.commitMany(many, round2));
  const second = [];
  for (const g of round2) second.push(await store.commit(oneByOne, g.records, { sync: g.sync }));
  outcomesOne.push(second);

  assert.deepEqual(outcomesMany, outcomesOne);
  assert.deepEqual(outcomesMany[1], [['written'], ['written', 'written'], ['stale'], ['written']]);
  const snapshot = async (id: number) => ({
    customers: await queryRows(database.db, sql`select customer_number, name, currency, last_updated, synced_at, deleted_at, data from economic_customers where tenant_id = ${id} order by 1`),
    projects: await queryRows(database.db, sql`select project_number, customer_number, name, synced_at, data from economic_projects where tenant_id = ${id} order by 1`),
    orders: await queryRows(database.db, sql`select order_number, status, customer_number, project_number, net_amount, last_updated, synced_at, deleted_at, data from economic_orders where tenant_id = ${id} order by 1`),
    quotes: await queryRows(database.db, sql`select quote_number, status, last_updated, synced_at, data from economic_quotes where tenant_id = ${id} order by 1`),
    lines: await queryRows(database.db, sql`select document_type, document_number, line_number, description, quantity, synced_at, deleted_at from economic_document_lines where tenant_id = ${id} order by 1, 2, 3`),
    syncState: await queryRows(database.db, sql`select kind, number, workflow_id, last_outcome, attempts, pending_old_number from sync_state where tenant_id = ${id} order by 1, 2`),
    changes: await queryRows(database.db, sql`select kind, number, change, old_number, last_updated from economic_changes where tenant_id = ${id} order by cursor`),
  });
  const [a, b] = await Promise.all([snapshot(many), snapshot(oneByOne)]);
  assert.deepEqual(a, b);
  // What the feed says, spelled out: round 1 created everything; round 2 updated 101 and customer 1 and
  // brought 103 back; the unchanged 100 and the stale 102 are no change.
  assert.deepEqual(
    a.changes.slice(8).map((c) => [c.kind, c.number, c.change].join(' ')),
    ['order 103 deleted', 'customer 1 updated', 'order 101 updated', 'order 103 created'],
  );
  assert.equal(a.lines.filter((l) => l.document_number === 101).length, 1, "101's three old lines replaced by its one new line");
});

test('commitMany given two observations of one entity writes them one after the other under the version rule', async () => {
  const [row] = await database.db.insert(tenants).values({ name: 'store-twice' }).returning();
  const id = row!.id;
  const older = customerRecord({ customerNumber: 7, name: 'Før', currency: 'DKK', lastUpdated: '2026-11-01T08:00:00.000Z' }, '2026-11-01T08:01:00.000Z');
  const newer = customerRecord({ customerNumber: 7, name: 'Efter', currency: 'DKK', lastUpdated: '2026-11-01T09:00:00.000Z' }, '2026-11-01T09:01:00.000Z');
  const outcomes = await store.commitMany(id, [{ records: [newer] }, { records: [older] }]);
  assert.deepEqual(outcomes, [['written'], ['stale']]);
  const [stored] = await database.db.select().from(economicCustomers).where(and(eq(economicCustomers.tenantId, id), eq(economicCustomers.customerNumber, 7)));
  assert.equal(stored?.name, 'Efter');
});

test('commitMany splits a batch of large documents over several statements and still sees each as unchanged on the next run', async () => {
  const [row] = await database.db.insert(tenants).values({ name: 'store-large' }).returning();
  const id = row!.id;
  const fetchedAt = '2026-11-01T10:00:00.000Z';
  const big = (number: number) =>
    documentRecord(
      'order',
      number,
      {
        orderNumber: number,
        date: '2026-11-01',
        customer: { customerNumber: 30 },
        currency: 'DKK',
        netAmount: 3000,
        grossAmount: 3750,
        lastUpdated: '2026-11-01T09:00:00.000Z',
        // ~600 KB of data each: ten of them are more than one statement carries (4 MB).
        lines: Array.from({ length: 3000 }, (_, i) => ({ lineNumber: i + 1, description: `Timeregistrering uge ${i % 52} — ${'x'.repeat(120)}`, quantity: 1, unitNetPrice: 1 })),
      },
      fetchedAt,
      'drafts',
    );
  const c = customerRecord({ customerNumber: 30, name: 'Stor Kunde', currency: 'DKK', lastUpdated: fetchedAt }, fetchedAt);
  const groups = Array.from({ length: 10 }, (_, i) => ({ records: [c, big(3000 + i)] }));
  assert.ok(groups.reduce((n, g) => n + JSON.stringify(g.records[1]?.data).length, 0) > 4 * 1024 * 1024);

  // Counted on a second pool over the same database: how many statements read and wrote the orders.
  const counter = countingDatabase(database.url);
  let first;
  try {
    const recorded = await counter.record(() => createEntityStore(counter.db).commitMany(id, groups));
    first = recorded.result;
    const orderReads = recorded.statements.filter((q) => q.startsWith('select') && q.includes('jsonb_to_recordset') && q.includes('"economic_orders"'));
    const orderWrites = recorded.statements.filter((q) => q.startsWith('insert into "economic_orders"'));
    assert.ok(orderReads.length >= 2 && orderWrites.length >= 2, `the orders went in several statements: ${orderReads.length} reads, ${orderWrites.length} upserts`);
  } finally {
    await counter.close();
  }
  assert.ok(first.every((o) => o.join() === 'written,written'));
  const [lines] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from economic_document_lines where tenant_id = ${id}`);
  assert.equal(lines?.n, 30_000);
  // The same versions fetched later: written again (synced_at moves), but no change for the feed.
  const later = (r: ReturnType<typeof big>) => ({ ...r, fetchedAt: '2026-11-01T11:00:00.000Z' });
  await store.commitMany(id, groups.map((g) => ({ records: g.records.map(later) })));
  const changes = await queryRows<{ change: string; n: number }>(database.db, sql`select change, count(*)::int as n from economic_changes where tenant_id = ${id} group by change`);
  assert.deepEqual([...changes], [{ change: 'created', n: 11 }]);
});
