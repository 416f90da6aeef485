// The sync-lag observation the worker exports as `economic_sync_sync_lag_seconds` (README.md, "Operating
// it"): a sync that committed its entity, or marked it deleted, reports how long after its oldest event was
// received, and what sent that event; a sync that skipped a kind e-conomic forbids us, or that carries no
// event, reports nothing. Run on the real `syncEntity` activity, a real database and the fake e-conomic.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeEconomic, type FakeEconomic } from './fake-economic';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { syncActivityTenant, type SyncActivityTenant } from './helpers/sync-activity';

let database: TestDatabase;
let fake: FakeEconomic;
let tenant: SyncActivityTenant;
const observed: Array<{ kind: string; trigger: string; lagSeconds: number }> = [];

before(async () => {
  [database, fake] = await Promise.all([createTestDatabase(), startFakeEconomic({ clockStart: 'wall' })]);
  tenant = await syncActivityTenant({ db: database.db, fake, name: 'synclag', companyName: 'Lag ApS', onSyncCommitted: (o) => observed.push(o) });
});

after(async () => {
  await Promise.allSettled([database?.drop(), fake?.close()]);
});

const syncEntity: SyncActivityTenant['syncEntity'] = (input) => tenant.syncEntity(input);

const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();

test('a committed sync reports its oldest event’s lag and trigger; a skipped one, or one without an event, reports nothing', async () => {
  const customer = tenant.agreement.upsertCustomer({ name: 'Forsinket Smed ApS' });
  const order = tenant.agreement.createOrder({ customerNumber: customer, lines: [{ description: 'Svejsning', quantity: 2, unitNetPrice: 400 }] });

  assert.equal((await syncEntity({ kind: 'order', number: order, oldestEvent: { receivedAt: ago(5), source: 'eConomicOrder' } })).outcome, 'synced');
  assert.equal(observed.length, 1);
  const [first] = observed;
  assert.equal(first?.kind, 'order');
  assert.equal(first?.trigger, 'webhook');
  assert.ok(first && first.lagSeconds >= 5 && first.lagSeconds < 120, `lag ${first?.lagSeconds}`);

  // Each trigger by name; the other internal sources, and one an older version's history may hold, as
  // `other` (the label's values stay few).
  for (const source of ['reconcile', 'retry-failed', 'grant-healed', 'kind-readable', 'something-else']) {
    assert.notEqual((await syncEntity({ kind: 'order', number: order, oldestEvent: { receivedAt: ago(1), source } })).outcome, 'skipped');
  }
  assert.deepEqual(observed.slice(1).map((o) => o.trigger), ['reconcile', 'retry-failed', 'other', 'other', 'other']);

  // Received "in the future" by another host's clock: no negative lag.
  assert.equal((await syncEntity({ kind: 'customer', number: customer, oldestEvent: { receivedAt: ago(-30), source: 'reconcile' } })).outcome, 'synced');
  assert.equal(observed.at(-1)?.lagSeconds, 0);

  // Gone from e-conomic: marked deleted, which is the database catching up too.
  const gone = tenant.agreement.createOrder({ customerNumber: customer });
  assert.equal((await syncEntity({ kind: 'order', number: gone, oldestEvent: { receivedAt: ago(2), source: 'eConomicOrder' } })).outcome, 'synced');
  tenant.agreement.deleteOrder(gone);
  assert.equal((await syncEntity({ kind: 'order', number: gone, oldestEvent: { receivedAt: ago(2), source: 'eConomicOrder' } })).outcome, 'deleted');
  assert.equal(observed.length, 9);

  // No event (a direct call) and a kind e-conomic forbids us: nothing observed.
  assert.notEqual((await syncEntity({ kind: 'order', number: order })).outcome, 'skipped');
  fake.forbid(tenant.grantToken, '/invoices/booked');
  assert.equal((await syncEntity({ kind: 'booked-invoice', number: 1, oldestEvent: { receivedAt: ago(1), source: 'eConomicInvoicePosted' } })).outcome, 'skipped');
  assert.equal(observed.length, 9);
});
