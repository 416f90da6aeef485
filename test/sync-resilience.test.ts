// How the sync behaves under pressure and faults: bursts coalesce, out-of-order versions never win,
// e-conomic's throttling and failures are retried the right way, refused grants stop cleanly, and no
// secret reaches a workflow history.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { economicCustomers, economicOrders, tenantCredentials } from '../src/db/schema';
import { createEntityStore } from '../src/store/entity-store';
import { customerRecord } from '../src/sync/entity-record';
import { EconomicNumber, EconomicSource, EconomicTenant } from '../src/shared/search-attributes';
import { CHANGE_SIGNAL, ENTITY_SYNC_WORKFLOW_TYPE, type ChangeEvent } from '../src/shared/sync-signals';
import type { entitySyncWorkflow } from '../workflows/entity-sync';
import { waitFor } from './helpers/wait';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';

let h: SyncHarness;
let acme: TestTenant;

before(async () => {
  h = await startSyncHarness({ clientTimeoutMs: 1500 });
  await h.startWorker();
  acme = await h.createTenant('resilient');
});

after(async () => {
  await h?.close();
});

const line = { description: 'Timer', productNumber: 'TIME', quantity: 2, unitNetPrice: 500 };

function orderFetches(order: number): number {
  return h.fake.callLog.filter((c) => c.agreement === acme.grantToken && /^\/orders\/\w+\/\d+$/.test(c.path) && c.path.endsWith(`/${order}`)).length;
}

test('a burst of 50 events for one entity costs at most 2 fetches of it', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Burst A/S', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines: [line] });
  h.fake.resetCalls();
  const handles = await Promise.all(Array.from({ length: 50 }, () => h.signal(acme, 'order', order)));
  const result = await handles[0]!.result();
  assert.equal(result.events, 50);
  assert.ok(result.syncs <= 2, `syncs: ${result.syncs}`);
  assert.ok(orderFetches(order) <= 2, `fetches: ${orderFetches(order)}`);
});

test('events arriving mid-sync: the final state is e-conomic latest', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Midtvejs ApS', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines: [line] });
  // Each event is sent while the workflow may be in the middle of syncing the previous version.
  for (let version = 1; version <= 8; version += 1) {
    acme.agreement.updateOrder(order, { heading: `version ${version}`, lines: [{ ...line, quantity: version }] });
    await h.signal(acme, 'order', order);
  }
  const handle = h.temporal.env.client.workflow.getHandle(`economic/${acme.name}/order/${order}`);
  await handle.result();
  const [row] = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, order));
  assert.equal((row?.data as { notes?: { heading?: string } }).notes?.heading, 'version 8');
  assert.equal(Number(row?.netAmount), 8 * 500);
});

test('an older version never overwrites a newer one', async () => {
  const newer = customerRecord({ customerNumber: 90001, name: 'Ny', currency: 'DKK', lastUpdated: '2026-05-02T10:00:00Z' }, '2026-05-02T10:00:05Z');
  const older = customerRecord({ customerNumber: 90001, name: 'Gammel', currency: 'DKK', lastUpdated: '2026-05-01T10:00:00Z' }, '2026-05-02T10:00:09Z');
  const store = createEntityStore(h.database.db);
  assert.deepEqual(await store.commit(acme.id, [newer]), ['written']);
  assert.deepEqual(await store.commit(acme.id, [older]), ['stale']);
  const [row] = await h.database.db.select().from(economicCustomers).where(eq(economicCustomers.customerNumber, 90001));
  assert.equal(row?.name, 'Ny');

  // Without lastUpdated (booked invoices, archived documents) the later fetch wins.
  const fetchedLate = customerRecord({ customerNumber: 90002, name: 'Sen', currency: 'DKK' }, '2026-05-03T10:00:09Z');
  const fetchedEarly = customerRecord({ customerNumber: 90002, name: 'Tidlig', currency: 'DKK' }, '2026-05-03T10:00:01Z');
  assert.deepEqual(await store.commit(acme.id, [fetchedLate]), ['written']);
  assert.deepEqual(await store.commit(acme.id, [fetchedEarly]), ['stale']);
  const [row2] = await h.database.db.select().from(economicCustomers).where(eq(economicCustomers.customerNumber, 90002));
  assert.equal(row2?.name, 'Sen');
});

test('429 with Retry-After: no call before the delay, then success', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Throttle ApS', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines: [line] });
  h.fake.resetCalls();
  h.fake.faults.inject({ agreement: acme.grantToken, path: `/orders/drafts/${order}`, times: 1, kind: '429', retryAfterSeconds: 3 });
  const result = await (await h.signal(acme, 'order', order)).result();
  assert.equal(result.lastOutcome, 'synced');
  const calls = h.fake.callLog.filter((c) => c.path === `/orders/drafts/${order}`);
  assert.equal(calls[0]?.status, 429);
  assert.equal(calls[1]?.status, 200);
  const waited = calls[1].time - calls[0].time;
  assert.ok(waited >= 3000, `retried after ${waited} ms, Retry-After was 3 s`);
});

test('5xx, connection resets, malformed JSON and timeouts are retried to success', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Ustabil A/S', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines: [line] });
  const path = `/orders/drafts/${order}`;
  for (const kind of ['500', '503', 'reset', 'malformed', 'hang'] as const) {
    h.fake.faults.inject({ agreement: acme.grantToken, path, times: 1, kind });
  }
  const result = await (await h.signal(acme, 'order', order)).result();
  assert.equal(result.lastOutcome, 'synced');
  assert.equal(h.fake.faults.pending, 0, 'every fault was hit');
  const [row] = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, order));
  assert.equal(row?.customerNumber, customer);
});

test('a revoked grant fails the workflow with a readable type, marks the tenant, and causes no retry storm', async () => {
  const victim = await h.createTenant('revoked');
  const customer = victim.agreement.upsertCustomer({ name: 'Opsagt', currency: 'DKK' });
  const order = victim.agreement.createOrder({ customerNumber: customer, lines: [line] });
  await (await h.signal(victim, 'order', order)).result();

  h.fake.revokeGrant(victim.grantToken);
  victim.agreement.updateOrder(order, { heading: 'after revocation' });
  const callsBefore = h.fake.calls(victim.grantToken).total;
  const failure = await (await h.signal(victim, 'order', order)).result().then(
    () => assert.fail('expected the sync to fail'),
    (err: unknown) => err,
  );
  assert.ok(failure instanceof WorkflowFailedError);
  assert.ok(failure.cause instanceof ApplicationFailure);
  assert.equal(failure.cause.type, 'EconomicCredentialsRejected');
  assert.match(failure.cause.message, /revoked or is wrong/);
  // One refused call, no retries of it.
  assert.equal(h.fake.calls(victim.grantToken).total - callsBefore, 1);
  const [cred] = await h.database.db.select().from(tenantCredentials).where(eq(tenantCredentials.tenantId, victim.id));
  assert.equal(cred?.status, 'broken');

  // Further events fail at once without calling e-conomic.
  const again = await (await h.signal(victim, 'order', order)).result().then(
    () => assert.fail('expected the sync to fail'),
    (err: unknown) => err,
  );
  assert.ok(again instanceof WorkflowFailedError && again.cause instanceof ApplicationFailure);
  assert.equal(again.cause.type, 'CredentialsBroken');
  assert.equal(h.fake.calls(victim.grantToken).total - callsBefore, 1);
});

test('no secret appears in any workflow history', async () => {
  const secrets = [acme.grantToken, h.fake.appSecretToken];
  let histories = 0;
  for await (const execution of h.temporal.env.client.workflow.list({ query: `WorkflowType = '${ENTITY_SYNC_WORKFLOW_TYPE}'` })) {
    const history = await h.temporal.env.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    const text = JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
    for (const secret of secrets) assert.ok(!text.includes(secret), `secret found in ${execution.workflowId}`);
    histories += 1;
  }
  assert.ok(histories >= 5, `checked ${histories} histories`);
});

test('a long-lived entity continues as new, carrying its pending events and search attributes', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Langtidsholdbar', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines: [line] });
  const workflowId = `economic/${acme.name}/order/${order}`;
  // The first fetch fails twice (the sync's local attempt, then its first ordinary attempt, retried a second
  // later: workflows/activity-options.ts), so the second event lands mid-sync.
  h.fake.faults.inject({ agreement: acme.grantToken, path: `/orders/drafts/${order}`, times: 2, kind: '503' });
  // maxSyncsPerRun = 1: any event arriving during the first sync is carried into a new run.
  const handle = await h.temporal.env.client.workflow.signalWithStart<typeof entitySyncWorkflow, [ChangeEvent]>(ENTITY_SYNC_WORKFLOW_TYPE, {
    workflowId,
    taskQueue: h.taskQueue,
    args: [{ tenantId: acme.id, tenant: acme.name, kind: 'order', number: order, maxSyncsPerRun: 1 }],
    signal: CHANGE_SIGNAL,
    signalArgs: [{ eventId: 'first', source: 'eConomicOrder', receivedAt: new Date().toISOString() }],
    typedSearchAttributes: [
      { key: EconomicTenant, value: acme.name },
      { key: EconomicSource, value: 'eConomicOrder' },
      { key: EconomicNumber, value: order },
    ],
  });
  const firstRunId = handle.signaledRunId;
  await waitFor('first sync under way', () => h.fake.callLog.some((c) => c.path === `/orders/drafts/${order}` && c.status === 503));
  acme.agreement.updateOrder(order, { heading: 'second run' });
  await handle.signal<[ChangeEvent]>(CHANGE_SIGNAL, { eventId: 'second', source: 'eConomicOrder', receivedAt: new Date().toISOString() });

  const latest = h.temporal.env.client.workflow.getHandle<typeof entitySyncWorkflow>(workflowId);
  const result = await latest.result();
  const description = await latest.describe();
  assert.notEqual(description.runId, firstRunId, 'continued as new');
  assert.equal(result.syncs, 1, 'the new run synced the carried event');
  assert.equal(description.typedSearchAttributes.get(EconomicNumber), order);
  assert.equal(description.typedSearchAttributes.get(EconomicTenant), acme.name);
  const [row] = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, order));
  assert.equal((row?.data as { notes?: { heading?: string } }).notes?.heading, 'second run');
});
