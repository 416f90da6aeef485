// Webhooks a fetch already covered (docs/temporal.md): an entity workflow whose events are all webhooks'
// that arrived well before the stored version's fetch started syncs without calling e-conomic or writing
// anything, since that fetch read what they announce. A webhook that arrived after the fetch, or within
// the clock margin before it, and any event of another source (a retry an operator asked for) still fetch.
// On the real dev server, real Postgres and the fake e-conomic over HTTP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { FETCH_COVERS_AFTER_MS } from '../activities/sync-entity';
import { economicOrders } from '../src/db/schema';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';

let h: SyncHarness;
let acme: TestTenant;

before(async () => {
  h = await startSyncHarness();
  await h.startWorker();
  acme = await h.createTenant('covered');
});

after(async () => {
  await h?.close();
});

async function storedOrder(number: number) {
  const [row] = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, number));
  assert.ok(row, `order ${number} is stored`);
  return row;
}

/** The heading e-conomic gave the stored version (its `notes.heading`, kept in `data`). */
function heading(row: { data: unknown }): string | undefined {
  return (row.data as { notes?: { heading?: string } }).notes?.heading;
}

function callsOfAcme(): number {
  return h.fake.calls(acme.grantToken).total;
}

test('webhooks received before the stored fetch cost no call; a later webhook, one inside the margin, and a retry fetch', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Dækket Snedker ApS' });
  const order = acme.agreement.createOrder({ customerNumber: customer, heading: 'Første udgave', lines: [{ description: 'Montage', quantity: 3, unitNetPrice: 500 }] });
  assert.equal((await (await h.signal(acme, 'order', order, { source: 'eConomicOrder' })).result()).lastOutcome, 'synced');
  const fetched = await storedOrder(order);

  // e-conomic changes the order after that fetch, so any new fetch writes a new version.
  acme.agreement.updateOrder(order, { heading: 'Anden udgave' });
  const before = (ms: number) => new Date(fetched.syncedAt.getTime() - ms);

  // Received 5 s before the stored fetch started: that fetch holds its change. No call, nothing written.
  let calls = callsOfAcme();
  const covered = await (await h.signal(acme, 'order', order, { source: 'eConomicOrder', receivedAt: before(5000) })).result();
  assert.equal(covered.lastOutcome, 'covered');
  assert.equal(callsOfAcme(), calls);
  const unchanged = await storedOrder(order);
  assert.equal(heading(unchanged), 'Første udgave');
  assert.equal(unchanged.syncedAt.getTime(), fetched.syncedAt.getTime());

  // Within the clock margin before the fetch: the hosts' clocks may differ, so it is fetched.
  calls = callsOfAcme();
  const inMargin = await (await h.signal(acme, 'order', order, { source: 'eConomicOrder', receivedAt: before(FETCH_COVERS_AFTER_MS / 2) })).result();
  assert.equal(inMargin.lastOutcome, 'synced');
  assert.ok(callsOfAcme() > calls, 'the order was fetched');
  const refetched = await storedOrder(order);
  assert.equal(heading(refetched), 'Anden udgave');

  // An operator's retry (not a webhook) received long before the last fetch: fetched all the same.
  acme.agreement.updateOrder(order, { heading: 'Tredje udgave' });
  calls = callsOfAcme();
  const retried = await (await h.signal(acme, 'order', order, { source: 'retry-failed', receivedAt: new Date(refetched.syncedAt.getTime() - 60_000) })).result();
  assert.equal(retried.lastOutcome, 'synced');
  assert.ok(callsOfAcme() > calls, 'the retry fetched');
  assert.equal(heading(await storedOrder(order)), 'Tredje udgave');

  // A webhook received after the last fetch: fetched again.
  calls = callsOfAcme();
  const later = await (await h.signal(acme, 'order', order, { source: 'eConomicOrder' })).result();
  assert.notEqual(later.lastOutcome, 'covered');
  assert.ok(callsOfAcme() > calls, 'the later webhook fetched');
});

test('a webhook for an entity never stored is fetched, however old it is', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Ny Kunde ApS' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines: [{ description: 'Syn', quantity: 1, unitNetPrice: 100 }] });
  const calls = callsOfAcme();
  const result = await (await h.signal(acme, 'order', order, { source: 'eConomicOrder', receivedAt: new Date(Date.now() - 3_600_000) })).result();
  assert.equal(result.lastOutcome, 'synced');
  assert.ok(callsOfAcme() > calls);
  await storedOrder(order);
});
