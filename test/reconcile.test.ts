// Scheduled reconciliation end to end on the real dev server, real Postgres and the fake
// e-conomic: webhooks are never sent, so whatever reaches Postgres got there through reconciliation,
// its bulk lane or the real entity workflows it signalled (deletions).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { runCommand } from '../src/cli/commands';
import { loadConfig } from '../src/config';
import {
  economicBookedInvoices,
  economicDraftInvoices,
  economicOrders,
  economicQuotes,
  reconcileSeen,
  reconcileState,
} from '../src/db/schema';
import { openDatabase } from '../src/db/client';
import { RECONCILE_WORKFLOW_TYPE, TENANT_SCOPE, type ReconcileOptions, type ReconcileSummary } from '../src/shared/reconcile';
import { createReconcileStore } from '../src/store/reconcile-store';
import { ensureReconcileSchedule, scheduleOffsetMs } from '../src/temporal/reconcile-schedule';
import type { reconcileWorkflow } from '../workflows/reconcile';
import { seedAgreement } from './fake-economic';
import { assertTenantConverged } from './helpers/converged';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';

let h: SyncHarness;

before(async () => {
  h = await startSyncHarness();
  await h.startWorker();
});

after(async () => {
  await h?.close();
});


let runs = 0;
async function reconcile(t: TestTenant, mode: 'auto' | 'incremental' | 'full', options: ReconcileOptions = {}, fullEveryMs?: number): Promise<ReconcileSummary> {
  runs += 1;
  return h.temporal.env.client.workflow.execute<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId: `reconcile/${t.name}/test-${runs}`,
    taskQueue: h.taskQueue,
    args: [{ tenantId: t.id, tenant: t.name, mode, options, ...(fullEveryMs === undefined ? {} : { fullEveryMs }) }],
  });
}

/** Every row of every kind in Postgres (not deleted) equals what the fake e-conomic holds. */
const assertConverged = (t: TestTenant) => assertTenantConverged(h.database.db, t);

function cliContext() {
  return { config: loadConfig({ TEMPORAL_TASK_QUEUE: h.taskQueue }), db: h.database.db, temporal: () => Promise.resolve(h.temporal.env.client) };
}

let dropped: TestTenant;

test('every webhook dropped: one incremental run (the CLI) makes the database equal e-conomic', async () => {
  dropped = await h.createTenant('dropped');
  seedAgreement(dropped.agreement, { customers: 6, projects: 5, ordersPerState: 3, quotesPerState: 3, draftInvoices: 4, bookedInvoices: 6, linesPerDocument: 2 });

  const out = await runCommand(cliContext(), 'reconcile', { tenant: 'dropped', full: false });
  assert.match(out.stdout, /^incremental reconciliation of dropped: \d+ entities checked, \d+ synced, 0 deleted/);
  await assertConverged(dropped);

  const state = await h.database.db.select().from(reconcileState).where(eq(reconcileState.tenantId, dropped.id));
  const watermark = state.find((s) => s.scope === 'order:drafts')?.watermark;
  assert.ok(watermark instanceof Date, 'a watermark per lastUpdated scope');
  const status = await runCommand(cliContext(), 'status', { tenant: 'dropped' });
  assert.match(status.stdout, /\(tenant\)/);
  assert.match(status.stdout, new RegExp(`order:drafts\\s+${watermark.toISOString().replace(/\./g, '\\.')}`));
});

test('later changes, still without webhooks: the next incremental run lists only what changed and converges', async () => {
  const a = dropped.agreement;
  const customer = a.customers.list()[0]!.customerNumber;
  a.upsertCustomer({ customerNumber: customer, name: 'Omdøbt ApS', currency: 'DKK' });
  const newCustomer = a.upsertCustomer({ name: 'Ny Kunde A/S', currency: 'EUR' });
  a.updateOrder(a.orders.drafts.list()[0]!.number, { heading: 'ændret' });
  a.sendQuote(a.quotes.drafts.list()[0]!.number);
  a.createOrder({ customerNumber: newCustomer, lines: [{ description: 'Ny', quantity: 1, unitNetPrice: 100 }] });
  a.upsertProject({ name: 'Nyt projekt', customerNumber: newCustomer });
  const unpaid = a.bookedInvoices.list().filter((b) => (b.remainder ?? 0) > 0);
  assert.ok(unpaid.length >= 2, 'the seed leaves unpaid invoices');
  a.payInvoice(unpaid[0]!.number, 10); // partly paid: its remainder changes
  a.payInvoice(unpaid[1]!.number, Number.MAX_SAFE_INTEGER); // paid in full: it leaves /invoices/unpaid
  a.createBookedInvoice({ customerNumber: newCustomer, lines: [{ description: 'Faktura', quantity: 2, unitNetPrice: 50 }] });
  h.fake.resetCalls();

  const summary = await reconcile(dropped, 'incremental');
  assert.equal(summary.full, false);
  await assertConverged(dropped);
  // Customer renamed + new customer, order edited + new order, quote moved to sent, new project,
  // two payments, one new booked invoice: a handful, not the whole tenant.
  // (Synced by the bulk lane or their entity workflows: none of theirs runs, so the bulk lane.)
  const synced = summary.signalled + (summary.bulk ?? 0);
  assert.ok(synced >= 8 && synced <= 12, `synced ${synced}`);
  const listing = h.fake.callLog.filter((c) => c.agreement === dropped.grantToken && c.endpoint === '/orders/drafts');
  assert.equal(listing.length, 1);
  assert.match(decodeURIComponent(listing[0]!.query), /filter=lastUpdated\$gt:20\d\d-\d\d-\d\dT/);
  const bookedListing = h.fake.callLog.find((c) => c.agreement === dropped.grantToken && c.endpoint === '/invoices/booked');
  assert.match(decodeURIComponent(bookedListing?.query ?? ''), /bookedInvoiceNumber\$gt:\d+/);
  const seen = await h.database.db.select().from(reconcileSeen).where(eq(reconcileSeen.tenantId, dropped.id));
  assert.equal(seen.length, 0, 'scratch rows are cleared when a scope finishes');
});

test('a full run detects deletions, archived documents and booked drafts', async () => {
  const a = dropped.agreement;
  const quote = a.quotes.sent.list()[0]!.number;
  a.deleteQuote(quote);
  const order = a.orders.drafts.list()[0]!.number;
  a.archiveOrder(order);
  const draft = a.draftInvoices.list()[0]!.number;
  const booked = a.bookDraftInvoice(draft);

  const incremental = await reconcile(dropped, 'incremental');
  assert.equal(incremental.deleted, 0, 'an incremental run cannot see deletions');

  const out = await runCommand(cliContext(), 'reconcile', { tenant: 'dropped', full: true });
  assert.match(out.stdout, /^full reconciliation of dropped: \d+ entities checked, \d+ synced, [1-9]\d* deleted/);
  await assertConverged(dropped);

  const [q] = await h.database.db.select().from(economicQuotes).where(and(eq(economicQuotes.tenantId, dropped.id), eq(economicQuotes.quoteNumber, quote)));
  assert.ok(q?.deletedAt instanceof Date, 'deleted quote has deleted_at');
  const [o] = await h.database.db.select().from(economicOrders).where(and(eq(economicOrders.tenantId, dropped.id), eq(economicOrders.orderNumber, order)));
  assert.equal(o?.status, 'archived');
  assert.equal(o?.deletedAt, null);
  const [d] = await h.database.db
    .select()
    .from(economicDraftInvoices)
    .where(and(eq(economicDraftInvoices.tenantId, dropped.id), eq(economicDraftInvoices.draftInvoiceNumber, draft)));
  assert.ok(d?.deletedAt instanceof Date, 'booked draft has deleted_at');
  const [b] = await h.database.db
    .select()
    .from(economicBookedInvoices)
    .where(and(eq(economicBookedInvoices.tenantId, dropped.id), eq(economicBookedInvoices.bookedInvoiceNumber, booked)));
  assert.ok(b && b.deletedAt === null, 'the booked invoice is there');

  const [tenantRow] = await h.database.db
    .select()
    .from(reconcileState)
    .where(and(eq(reconcileState.tenantId, dropped.id), eq(reconcileState.scope, '*')));
  assert.ok(tenantRow?.lastFullRunAt instanceof Date, 'the full run is recorded');

  // Nothing left to do: a second full run signals nothing.
  const again = await reconcile(dropped, 'full');
  assert.equal(again.signalled, 0);
  assert.equal(again.bulk, 0);

  // What the schedule starts (`auto`): incremental while the last full run is recent, full once it is old.
  assert.equal((await reconcile(dropped, 'auto')).full, false);
  assert.equal((await reconcile(dropped, 'auto', {}, 0)).full, true);
});

test('a 429 storm on every listing slows the run down and loses nothing', async () => {
  const storm = await h.createTenant('storm');
  seedAgreement(storm.agreement, { customers: 4, projects: 3, ordersPerState: 2, quotesPerState: 2, draftInvoices: 3, bookedInvoices: 4, linesPerDocument: 1, seed: 7 });
  // A 429 on the first call of each of the eight listings (they run one after another).
  const listings = ['customers', 'Projects', 'orders/drafts', 'orders/sent', 'quotes/drafts', 'invoices/drafts', 'invoices/booked', 'invoices/unpaid'];
  for (const path of listings) {
    h.fake.faults.inject({ agreement: storm.grantToken, path: new RegExp(`^/${path}$`), times: 1, kind: '429', retryAfterSeconds: 1 });
  }
  // And the entity fetches reconciliation causes are throttled too.
  h.fake.faults.inject({ agreement: storm.grantToken, path: /^\/(customers|Projects|orders\/\w+|quotes\/\w+|invoices\/\w+)\/\d+$/, times: 8, kind: '429', retryAfterSeconds: 1 });
  h.fake.resetCalls();
  const started = Date.now();
  // One entity awaited at a time: each later call to an entity's path is then its own retry, not the
  // dependency fetch of an entity another scope signalled meanwhile.
  const summary = await reconcile(storm, 'incremental', { maxOutstanding: 1 });
  const elapsed = Date.now() - started;
  await assertConverged(storm);
  assert.equal(summary.failed, 0);

  const calls = h.fake.callLog.filter((c) => c.agreement === storm.grantToken);
  const throttled = calls.filter((c) => c.fault === '429');
  assert.equal(throttled.length, 16);
  // Retry-After was honoured: the retry of a throttled listing came a second later, not at once.
  for (const hit of throttled) {
    const retry = calls.find((c) => c.time > hit.time && c.path === hit.path && c.query === hit.query && c.fault === undefined);
    assert.ok(retry, `retried ${hit.path}`);
    assert.ok(retry.time - hit.time >= 900, `waited ${retry.time - hit.time} ms after a 429 on ${hit.path}`);
  }
  assert.ok(elapsed >= 8 * 900, `a storm of eight 429s took ${elapsed} ms`);
});

test('the schedule reconcile/<tenant>: created once, updated idempotently, a pause is kept', async () => {
  const client = h.temporal.env.client;
  const tenant = { id: dropped.id, name: dropped.name };
  const config = { reconcileIncrementalEvery: '15m', reconcileFullEvery: '24h' };
  assert.equal(await ensureReconcileSchedule(client, h.taskQueue, tenant, config), 'created');
  const handle = client.schedule.getHandle('reconcile/dropped');
  await handle.pause('maintenance');
  assert.equal(await ensureReconcileSchedule(client, h.taskQueue, tenant, { ...config, reconcileIncrementalEvery: '10m' }), 'updated');
  const described = await handle.describe();
  assert.equal(described.state.paused, true);
  assert.equal(described.policies.overlap, ScheduleOverlapPolicy.SKIP);
  assert.equal(described.spec.intervals?.[0]?.every, 600_000);
  // The tenant's own second within the interval, the same at every start.
  assert.equal(described.spec.intervals?.[0]?.offset, scheduleOffsetMs('dropped', 600_000));
  assert.equal(described.action.type, 'startWorkflow');
  if (described.action.type === 'startWorkflow') {
    assert.equal(described.action.workflowType, RECONCILE_WORKFLOW_TYPE);
    assert.deepEqual((described.action.args as unknown[])[0], { tenantId: dropped.id, tenant: 'dropped', mode: 'auto', fullEveryMs: 86_400_000 });
  }
  await handle.delete();
});

test('one run reconciles a tenant at a time: a run begun while another holds the tenant calls nothing, the CLI names the holder, a lapsed claim is taken over, an ended run releases it', async () => {
  const t = await h.createTenant('exclusive');
  seedAgreement(t.agreement, { customers: 3, projects: 2, ordersPerState: 1, quotesPerState: 1, draftInvoices: 1, bookedInvoices: 1, linesPerDocument: 1 });
  const store = createReconcileStore(h.database.db);
  const tenantRow = and(eq(reconcileState.tenantId, t.id), eq(reconcileState.scope, TENANT_SCOPE));
  const claimOf = async () => (await h.database.db.select({ activeRun: reconcileState.activeRun, activeUntil: reconcileState.activeUntil }).from(reconcileState).where(tenantRow))[0];

  // Two runs claiming at once, on two connections: exactly one gets the tenant.
  const other = await openDatabase({ databaseUrl: h.database.url, dataDir: '/nonexistent', maxConnections: 2 });
  try {
    const claims = await Promise.all([store.claimRun(t.id, 'reconcile/exclusive/a'), createReconcileStore(other.db).claimRun(t.id, 'reconcile/exclusive/b')]);
    assert.equal(claims.filter((c) => c.claimed).length, 1, JSON.stringify(claims));
    const holder = (await claimOf())?.activeRun;
    assert.ok(holder === 'reconcile/exclusive/a' || holder === 'reconcile/exclusive/b');
    assert.deepEqual(await store.claimRun(t.id, holder), { claimed: true }, 'the holder claiming again keeps it');
  } finally {
    await other.close();
  }

  // A run begun while another holds the tenant: it lists and records nothing; the CLI says who holds it.
  h.fake.resetCalls();
  const busy = await reconcile(t, 'full');
  assert.match(busy.busy?.workflowId ?? '', /^reconcile\/exclusive\/[ab]$/);
  assert.equal(busy.checked, 0);
  await assert.rejects(runCommand(cliContext(), 'reconcile', { tenant: 'exclusive', full: true }), /tenant "exclusive" is being reconciled by reconcile\/exclusive\/[ab] .*this run did nothing/);
  assert.equal(h.fake.calls(t.grantToken).total, 0, 'no e-conomic call while another run holds the tenant');
  assert.equal((await store.scopeState(t.id, TENANT_SCOPE))?.lastRunAt, null, 'the busy runs recorded no run');

  // Progress renews the claim of the run that holds the tenant.
  await h.database.db.update(reconcileState).set({ activeUntil: new Date(Date.now() + 1000) }).where(tenantRow);
  await store.recordProgress(t.id, { runId: 'a', full: true, scope: 'customer', scopeIndex: 0, scopeCount: 1, checkedBefore: 0, checked: 0, bulk: 0, signalled: 0, ratePerSecond: 0, updatedAt: new Date().toISOString() });
  assert.ok(((await claimOf())?.activeUntil?.getTime() ?? 0) > Date.now() + 60_000, 'renewed by the progress record');

  // The holder stopped without ending (terminated): once its claim lapses, the next run takes the tenant,
  // reconciles it, and releases it when it ends.
  await h.database.db.update(reconcileState).set({ activeUntil: new Date(Date.now() - 1000) }).where(tenantRow);
  const out = await runCommand(cliContext(), 'reconcile', { tenant: 'exclusive', full: true });
  assert.match(out.stdout, /^full reconciliation of exclusive: \d+ entities checked/);
  await assertConverged(t);
  assert.deepEqual(await claimOf(), { activeRun: null, activeUntil: null }, 'released when the run ended');
});
