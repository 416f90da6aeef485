// What one ordinary webhook-driven sync costs in Postgres statements (round trips), counted on the real
// `syncEntity` activity against a real database and the fake e-conomic: the worker and Postgres are
// CPU-bound during a webhook burst (README.md, the bench), so every statement that buys nothing costs
// throughput. The count is pinned, so a statement added to the ordinary path fails here and has to say
// why it is worth it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { economicChanges, economicOrders, syncState } from '../src/db/schema';
import { startFakeEconomic, type FakeEconomic } from './fake-economic';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { countingDatabase, type StatementCounter } from './helpers/statement-counter';
import { documentLines } from './helpers/rows';
import { syncActivityTenant, type SyncActivityTenant } from './helpers/sync-activity';

let database: TestDatabase;
let fake: FakeEconomic;
let counter: StatementCounter;
let tenant: SyncActivityTenant;

before(async () => {
  [database, fake] = await Promise.all([createTestDatabase(), startFakeEconomic({ clockStart: 'wall' })]);
  counter = countingDatabase(database.url);
  tenant = await syncActivityTenant({ db: counter.db, fake, name: 'roundtrips', companyName: 'Round Trips ApS' });
});

after(async () => {
  await counter?.close();
  await Promise.allSettled([database?.drop(), fake?.close()]);
});

const syncEntity: SyncActivityTenant['syncEntity'] = (input) => tenant.syncEntity(input);

/**
 * The statements an ordinary webhook sync sends (docs/architecture.md, "How an entity is synced"): one
 * opens the session (candidate claim, grant, forbidden kinds), one reads the store (pending renumbering,
 * the stored row and the customer and project it names), one takes the call budget, then the
 * transaction: begin, the entity locks, the version read under them, the row's write (with its old
 * lines' delete and the sync's outcome), the new lines, the change feed, commit. Before these were
 * merged an update cost 19.
 */
const UPDATED_ORDER_STATEMENTS = 10;
/** A new order: no stored row named its customer and project, so they are read after the fetch, together (before: 19). */
const NEW_ORDER_STATEMENTS = 11;

const listed = (statements: string[]) => statements.map((s, i) => `${i + 1}. ${s.slice(0, 200)}`).join('\n');

test('an ordinary order sync (grant verified, customer and project stored, nothing pending) costs a pinned number of statements', async () => {
  const customer = tenant.agreement.upsertCustomer({ name: 'Nordisk Tømrer ApS' });
  const project = tenant.agreement.upsertProject({ name: 'Tagrenovering', customerNumber: customer });
  const lines = [{ description: 'Rådgivning', productNumber: 'TIME', quantity: 7.5, unitNetPrice: 950 }];
  const first = tenant.agreement.createOrder({ customerNumber: customer, projectNumber: project, lines });
  // The first sync verifies the webhook's grant and stores the customer and project: not the ordinary case.
  assert.equal((await syncEntity({ kind: 'order', number: first })).outcome, 'synced');

  // A new order of that customer and project.
  const order = tenant.agreement.createOrder({ customerNumber: customer, projectNumber: project, lines });
  const created = await counter.record(() => syncEntity({ kind: 'order', number: order }));
  assert.deepEqual(created.result, { outcome: 'synced', dependencies: 0, draftsDeleted: [] });
  assert.ok(created.statements.length <= NEW_ORDER_STATEMENTS, `a new order cost ${created.statements.length} statements:\n${listed(created.statements)}`);

  // It changes in e-conomic and its webhook arrives.
  tenant.agreement.updateOrder(order, { heading: 'Fase 2', lines: [...lines, { description: 'Kørsel', productNumber: 'KM', quantity: 42, unitNetPrice: 3.7 }] });
  fake.resetCalls();
  const updated = await counter.record(() => syncEntity({ kind: 'order', number: order }));
  assert.deepEqual(updated.result, { outcome: 'synced', dependencies: 0, draftsDeleted: [] });
  assert.ok(updated.statements.length <= UPDATED_ORDER_STATEMENTS, `an updated order cost ${updated.statements.length} statements:\n${listed(updated.statements)}`);

  // Nothing the statements bought is lost: one e-conomic call (the stored status says where to look, the
  // customer and project are fresh), the new version and lines, the outcome, the change in the feed.
  assert.deepEqual(fake.callLog.map((c) => c.path), [`/orders/drafts/${order}`]);
  const [row] = await database.db.select().from(economicOrders).where(and(eq(economicOrders.tenantId, tenant.id), eq(economicOrders.orderNumber, order)));
  assert.equal((row?.data as { notes?: { heading?: string } }).notes?.heading, 'Fase 2');
  assert.deepEqual((await documentLines(database.db, tenant.id, 'order', order)).map((l) => l.productNumber), ['TIME', 'KM']);
  const [state] = await database.db.select().from(syncState).where(and(eq(syncState.tenantId, tenant.id), eq(syncState.kind, 'order'), eq(syncState.number, order)));
  assert.equal(state?.lastOutcome, 'synced');
  assert.equal(state?.attempts, 2);
  const changes = await database.db.select().from(economicChanges).where(and(eq(economicChanges.tenantId, tenant.id), eq(economicChanges.number, order)));
  assert.deepEqual(changes.map((c) => c.change), ['created', 'updated']);
});
