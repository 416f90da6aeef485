// Reconciliation with many tenants and real timing, on the real dev server, real Postgres and the fake
// e-conomic over HTTP: it never takes the worker capacity webhook syncs need, a stuck entity never stops
// the next run, watermarks never run ahead of what was compared, a listing error or a mass deletion
// deletes nothing, and a run cut short by its call budget resumes where it stopped.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { runCommand } from '../src/cli/commands';
import { CliError } from '../src/cli/context';
import { loadConfig } from '../src/config';
import { queryRows } from '../src/db/client';
import { economicBookedInvoices, economicCustomers, economicProjects, reconcileState } from '../src/db/schema';
import { emptyCounts, ENTITY_DONE_SIGNAL, RECONCILE_WORKFLOW_TYPE, reconcileEventId, type ReconcileOptions, type ReconcileSummary } from '../src/shared/reconcile';
import { createSyncWorker } from '../src/worker';
import { createActivities } from '../activities';
import type { ReconcileScopeInput, ReconcileScopeResult } from '../activities/reconcile';
import { scheduleOffsetMs } from '../src/temporal/reconcile-schedule';
import { entityWorkflowsOn } from '../src/temporal/signal-entity';
import type { reconcileWorkflow } from '../workflows/reconcile';
import { seedAgreement } from './fake-economic';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';
import { startTestWorker, uniqueTaskQueue } from './helpers/temporal';
import { waitFor } from './helpers/wait';

let h: SyncHarness;

before(async () => {
  h = await startSyncHarness();
  await h.startWorker();
});

after(async () => {
  await h?.close();
});

/** e-conomic listing calls (not `/self`, not an entity's own GET). */
const isListing = (c: { path: string; endpoint: string }) => c.endpoint !== '/self' && !/\/\d+$/.test(c.path);

const NOTHING_ELSE = { projects: 0, ordersPerState: 0, quotesPerState: 0, draftInvoices: 0, bookedInvoices: 0, linesPerDocument: 1 } as const;

let runs = 0;
function start(t: TestTenant, mode: 'auto' | 'incremental' | 'full', options: ReconcileOptions = {}, workflowId = `reconcile/${t.name}/test-${++runs}`, taskQueue = h.reconcileTaskQueue) {
  return h.temporal.env.client.workflow.start<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId,
    taskQueue,
    args: [{ tenantId: t.id, tenant: t.name, mode, options }],
  });
}
const reconcile = async (t: TestTenant, mode: 'auto' | 'incremental' | 'full', options: ReconcileOptions = {}, workflowId?: string): Promise<ReconcileSummary> =>
  (await start(t, mode, options, workflowId)).result();

function cliContext() {
  return { config: loadConfig({ TEMPORAL_TASK_QUEUE: h.taskQueue }), db: h.database.db, temporal: () => Promise.resolve(h.temporal.env.client) };
}

async function liveCustomers(t: TestTenant): Promise<Map<number, string | null>> {
  const rows = await h.database.db.select().from(economicCustomers).where(and(eq(economicCustomers.tenantId, t.id), isNull(economicCustomers.deletedAt)));
  return new Map(rows.map((r) => [r.customerNumber, r.name]));
}

test('50 tenants reconciling at the same moment while webhooks for another tenant sync before any of the runs ends', async () => {
  const tenants: TestTenant[] = [];
  for (let i = 0; i < 50; i++) {
    const t = await h.createTenant(`many-${i}`);
    seedAgreement(t.agreement, { customers: 2, ...NOTHING_ELSE, seed: i + 1 });
    tenants.push(t);
  }
  // Every tenant has an entity whose fetch keeps failing: each run awaits one entity that does not come.
  for (const t of tenants) h.fake.faults.inject({ agreement: t.grantToken, path: /^\/customers\/2$/, times: 10_000, kind: '500' });
  const other = await h.createTenant('busy-webhooks');
  seedAgreement(other.agreement, { customers: 3, ...NOTHING_ELSE, seed: 99 });

  // The same webhooks on a quiet worker, for comparison.
  const quietStarted = Date.now();
  await Promise.all((await Promise.all([1, 2, 3].map((n) => h.signal(other, 'customer', n)))).map((w) => w.result()));
  const quietMs = Date.now() - quietStarted;
  for (const n of [1, 2, 3]) other.agreement.upsertCustomer({ customerNumber: n, name: `Webhook ${n} ApS`, currency: 'DKK' });

  const handles = await Promise.all(tenants.map((t) => start(t, 'incremental', { entityTimeoutMs: 8000 })));
  // All 50 are under way (their entity syncs queued behind them) when the webhooks arrive.
  await waitFor('the 50 runs to signal their entities', async () => {
    const [row] = await queryRows<{ n: number }>(h.database.db, sql`select count(distinct tenant_id)::int as n from economic_customers where customer_number = 1`);
    return (row?.n ?? 0) >= 10;
  });
  const started = Date.now();
  const webhooks = await Promise.all([1, 2, 3].map((n) => h.signal(other, 'customer', n)));
  await Promise.all(webhooks.map((w) => w.result()));
  const webhookMs = Date.now() - started;
  assert.deepEqual([...(await liveCustomers(other)).values()].sort(), ['Webhook 1 ApS', 'Webhook 2 ApS', 'Webhook 3 ApS']);
  // Not queued behind the reconciliations: every one of the 50 runs is still under way (each awaits its
  // failing entity until its 8 s entity timeout) when the webhooks' syncs have ended.
  const states = await Promise.all(handles.map(async (hd) => (await hd.describe()).status.name));
  assert.deepEqual(states.filter((st) => st !== 'RUNNING'), [], `webhook syncs took ${webhookMs} ms; runs already ended: ${states.filter((st) => st !== 'RUNNING').length}`);

  const summaries = await Promise.all(handles.map((hd) => hd.result()));
  let healthy = 0;
  for (const s of summaries) {
    // Every run ended, reporting the entity that never came (a slow machine may add the healthy one).
    assert.ok(s.stuck?.some((e) => e.kind === 'customer' && e.number === 2), `${s.tenant}: the failing entity is reported stuck`);
    // `synced` counts the bulk lane's commits too (customer 1); the failing one went its entity workflow.
    assert.equal(s.synced - (s.bulk ?? 0) + (s.stuckCount ?? 0), s.signalled, `${s.tenant}: every signalled entity is accounted for`);
    healthy += s.synced;
  }
  assert.ok(healthy >= 40, `${healthy} of 50 healthy entities reported back in time`);
  // Tenants' schedules are spread over the interval, not all at the same second.
  const offsets = new Set(tenants.map((t) => scheduleOffsetMs(t.name, 15 * 60_000)));
  assert.ok(offsets.size >= 45, `${offsets.size} distinct offsets for 50 tenants`);
  for (const o of offsets) assert.ok(o >= 0 && o < 15 * 60_000 && o % 1000 === 0);
  h.fake.faults.clear();
  console.log(`[measure] three webhook syncs: ${quietMs} ms on a quiet worker, ${webhookMs} ms during 50 concurrent reconciliations`);
});

test('a stuck entity does not stop the next reconciliation run', async () => {
  const t = await h.createTenant('stuck');
  seedAgreement(t.agreement, { customers: 3, ...NOTHING_ELSE, seed: 11 });
  h.fake.faults.inject({ agreement: t.grantToken, path: /^\/customers\/2$/, times: 10_000, kind: '500' });
  const id = 'reconcile/stuck/scheduled';
  const options = { entityTimeoutMs: 2000 };

  const first = await reconcile(t, 'incremental', options, id);
  assert.equal(first.stuckCount, 1);
  assert.deepEqual(first.stuck, [{ scope: 'customer', kind: 'customer', number: 2 }]);
  assert.deepEqual([...(await liveCustomers(t)).keys()].sort(), [1, 3]);

  // The next run proceeds and catches the next change; under the same workflow id, a late report from the
  // first run's stuck entity is not taken for one of its own.
  t.agreement.upsertCustomer({ customerNumber: 3, name: 'Næste Kørsel ApS', currency: 'DKK' });
  const started = Date.now();
  const second = await reconcile(t, 'incremental', options, id);
  assert.ok(Date.now() - started < 30_000, 'the run ends at its deadline');
  assert.equal((await liveCustomers(t)).get(3), 'Næste Kørsel ApS');
  assert.equal(second.stuckCount, 1, 'still stuck, and reported again');

  const status = await runCommand(cliContext(), 'status', { tenant: 'stuck' });
  assert.match(status.stdout, /stuck: 1 entities did not report back in time \(stuck\): customer 2/);
  h.fake.faults.clear();
});

test('a change on an already-compared page is caught by the next incremental run (page size 2)', async () => {
  const t = await h.createTenant('paged');
  seedAgreement(t.agreement, { customers: 6, ...NOTHING_ELSE, seed: 12 });
  const options = { pageSize: 2, overlapMs: 0 };
  await reconcile(t, 'incremental', options);
  // A full scan, in pages of two. While it lists page two, customer 1 (page one, already compared) changes,
  // then customer 5 (page three, not yet listed): the greatest lastUpdated the scan sees is newer than
  // customer 1's change, so a watermark taken from it would skip customer 1 for good.
  const faults = h.fake.faults;
  const take = faults.take.bind(faults);
  let listings = 0;
  faults.take = (agreement, paths) => {
    if (agreement === t.grantToken && paths.includes('/customers') && ++listings === 2) {
      t.agreement.upsertCustomer({ customerNumber: 1, name: 'Ændret Under Scan ApS', currency: 'DKK' });
      t.agreement.upsertCustomer({ customerNumber: 5, name: 'Ændret Bagefter ApS', currency: 'DKK' });
    }
    return take(agreement, paths);
  };
  try {
    await reconcile(t, 'full', options);
  } finally {
    faults.take = take;
  }
  assert.equal(listings, 3, 'three pages of two');
  const afterScan = await liveCustomers(t);
  assert.equal(afterScan.get(5), 'Ændret Bagefter ApS');
  assert.notEqual(afterScan.get(1), 'Ændret Under Scan ApS', 'page one was compared before the change');

  await reconcile(t, 'incremental', options);
  assert.equal((await liveCustomers(t)).get(1), 'Ændret Under Scan ApS');
});

test('lost booked-invoice webhooks are caught incrementally', async () => {
  const t = await h.createTenant('booked');
  seedAgreement(t.agreement, { customers: 1, ...NOTHING_ELSE, bookedInvoices: 3, seed: 13 });
  await reconcile(t, 'incremental');
  const seeded = t.agreement.bookedInvoices.list().map((b) => b.number);
  const customer = t.agreement.customers.list()[0]!.customerNumber;
  const created = [1, 2, 3, 4, 5].map(() => t.agreement.createBookedInvoice({ customerNumber: customer, lines: [{ description: 'Ydelse', quantity: 1, unitNetPrice: 100 }] }));
  // Only the last one's webhook arrives: the highest number stored moves past the four lost ones.
  await (await h.signal(t, 'booked-invoice', created[4]!)).result();
  h.fake.resetCalls();

  const summary = await reconcile(t, 'incremental');
  const rows = await h.database.db
    .select({ n: economicBookedInvoices.bookedInvoiceNumber })
    .from(economicBookedInvoices)
    .where(and(eq(economicBookedInvoices.tenantId, t.id), isNull(economicBookedInvoices.deletedAt)));
  assert.deepEqual(rows.map((r) => r.n).sort((a, b) => a - b), [...seeded, ...created]);
  assert.equal(summary.scopes['booked-invoice:new']?.bulk, 4, 'the four lost ones, committed in bulk');
  const listing = h.fake.callLog.find((c) => c.agreement === t.grantToken && c.endpoint === '/invoices/booked');
  assert.match(decodeURIComponent(listing?.query ?? ''), new RegExp(`bookedInvoiceNumber\\$gt:${Math.max(...seeded)}\\b`), "from reconciliation's own number watermark");
  const [state] = await h.database.db
    .select()
    .from(reconcileState)
    .where(and(eq(reconcileState.tenantId, t.id), eq(reconcileState.scope, 'booked-invoice:new')));
  assert.equal(state?.numberWatermark, created[4]);
});

test('an entity listed again by a later scope after it reported back is not awaited a second time', async () => {
  // The race behind it: the unpaid scope lists a new invoice whose sync is just ending, signals it under the
  // run's event id (its entity workflow drops it as a duplicate), and the report of the first signal
  // arrives before that listing returns. Staged exactly with a listing activity that plays both scopes.
  const t = await h.createTenant('listed-twice');
  const entity = { kind: 'customer' as const, number: 1 };
  let listings = 0;
  const reconcileScope = async (input: ReconcileScopeInput): Promise<ReconcileScopeResult> => {
    listings += 1;
    const eventId = reconcileEventId(input.signalRunId ?? input.runId, entity.kind, entity.number);
    if (listings === 2) await h.temporal.env.client.workflow.getHandle(input.replyTo!).signal(ENTITY_DONE_SIGNAL, { eventId, outcome: 'synced' });
    const cursor = { runId: input.runId, scope: input.scope, phase: 'list' as const, skipPages: 0, counts: emptyCounts() };
    return { done: true, cursor, signalled: listings <= 2 ? [entity] : [], deletionCandidates: 0 };
  };
  const taskQueue = uniqueTaskQueue('listed-twice');
  const worker = await createSyncWorker({ connection: h.temporal.env.nativeConnection, namespace: h.temporal.namespace, taskQueue, activities: { ...createActivities(h.activityDeps), reconcileScope } });
  const running = worker.run();
  try {
    const summary = await (await start(t, 'incremental', { entityTimeoutMs: 30_000 }, undefined, taskQueue)).result();
    assert.ok(listings >= 2);
    assert.equal(summary.stuckCount ?? 0, 0, 'the entity counted with the outcome it already reported, not awaited until its deadline');
  } finally {
    worker.shutdown();
    await running;
  }
});

test('a listing 404 and a wrong Projects URL delete nothing', async () => {
  const t = await h.createTenant('listing404');
  seedAgreement(t.agreement, { customers: 3, projects: 4, ordersPerState: 0, quotesPerState: 0, draftInvoices: 0, bookedInvoices: 0, linesPerDocument: 1, seed: 14 });
  await reconcile(t, 'full');
  const live = async () => {
    const [c] = await queryRows<{ n: number }>(h.database.db, sql`select count(*)::int as n from economic_customers where tenant_id = ${t.id} and deleted_at is null`);
    const p = await h.database.db.select().from(economicProjects).where(and(eq(economicProjects.tenantId, t.id), isNull(economicProjects.deletedAt)));
    return { customers: c?.n ?? 0, projects: p.length };
  };
  assert.deepEqual(await live(), { customers: 3, projects: 4 });

  // A 404 on the customers listing (a path e-conomic no longer knows): loud, and nothing deleted.
  h.fake.faults.inject({ agreement: t.grantToken, path: /^\/customers$/, times: 1, kind: '404' });
  const failed = await start(t, 'full');
  const err = await failed.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, 'the run fails visibly');
  assert.match(String(err.cause?.message), /customer failed \(EconomicListingNotFound\)/);
  assert.deepEqual(await live(), { customers: 3, projects: 4 });
  const status = await runCommand(cliContext(), 'status', { tenant: 'listing404' });
  assert.match(status.stdout, /customer failed \(EconomicListingNotFound\).*nothing deleted/);

  // A worker configured with a wrong Projects URL: every project fetch would 404 too.
  const wrongQueue = uniqueTaskQueue('wrong-projects');
  const economic = { ...h.activityDeps.economic, projectsUrl: `${h.fake.projectsUrl.replace(/\/$/, '')}/wrong` };
  const wrong = await startTestWorker(h.temporal, { ...h.activityDeps, economic, entities: entityWorkflowsOn(h.temporal.env.client, h.taskQueue) }, wrongQueue);
  try {
    const run = await start(t, 'full', {}, `reconcile/${t.name}/wrong-url`, wrongQueue);
    await assert.rejects(run.result(), (e: unknown) => e instanceof WorkflowFailedError && /project failed \(EconomicListingNotFound\)/.test(String(e.cause?.message)));
  } finally {
    await wrong.stop();
  }
  assert.deepEqual(await live(), { customers: 3, projects: 4 });
});

test('a mass deletion stops at the guard and proceeds with --allow-mass-delete', async () => {
  const t = await h.createTenant('massdelete');
  seedAgreement(t.agreement, { customers: 10, ...NOTHING_ELSE, seed: 15 });
  await reconcile(t, 'full');
  assert.equal((await liveCustomers(t)).size, 10);
  for (const n of [2, 4, 6, 8, 10]) t.agreement.deleteCustomer(n);

  const guarded = await runCommand(cliContext(), 'reconcile', { tenant: 'massdelete', full: true });
  assert.match(guarded.stdout, /deletion guard: customer would bring the run to 5 of 10 rows marked deleted \(more than 20%\); nothing was deleted/);
  assert.match(guarded.stdout, /reconcile --tenant massdelete --full --allow-mass-delete/);
  assert.equal((await liveCustomers(t)).size, 10, 'nothing deleted');
  const status = await runCommand(cliContext(), 'status', { tenant: 'massdelete' });
  assert.match(status.stdout, /massdelete: deletion guard: customer would bring the run to 5 of 10 rows/);
  // A guarded run is no full run: the next `auto` run compares everything again.
  const [tenantRow] = await h.database.db.select().from(reconcileState).where(and(eq(reconcileState.tenantId, t.id), eq(reconcileState.scope, '*')));
  const firstFull = tenantRow?.lastFullRunAt?.getTime();

  await assert.rejects(runCommand(cliContext(), 'reconcile', { tenant: 'massdelete', allowMassDelete: true }), (e: unknown) => e instanceof CliError && /needs --full/.test(e.message));

  const allowed = await runCommand(cliContext(), 'reconcile', { tenant: 'massdelete', full: true, allowMassDelete: true });
  assert.match(allowed.stdout, /^full reconciliation of massdelete: \d+ entities checked, \d+ synced, 5 deleted/);
  assert.deepEqual([...(await liveCustomers(t)).keys()].sort((a, b) => a - b), [1, 3, 5, 7, 9]);
  const [afterRow] = await h.database.db.select().from(reconcileState).where(and(eq(reconcileState.tenantId, t.id), eq(reconcileState.scope, '*')));
  assert.ok((afterRow?.lastFullRunAt?.getTime() ?? 0) > (firstFull ?? 0), 'the allowed run counts as a full run');
  assert.doesNotMatch((await runCommand(cliContext(), 'status', { tenant: 'massdelete' })).stdout, /deletion guard/);
});

test('a budget-cut full run resumes where it stopped', async () => {
  const t = await h.createTenant('budget');
  seedAgreement(t.agreement, { customers: 6, projects: 2, ordersPerState: 1, quotesPerState: 1, draftInvoices: 2, bookedInvoices: 2, linesPerDocument: 1, seed: 16 });
  const options = { pageSize: 2, maxListCallsPerRun: 4 };
  h.fake.resetCalls();
  const first = await reconcile(t, 'full', options);
  assert.equal(first.budgetExhausted, true);
  const firstListings = h.fake.callLog.filter((c) => c.agreement === t.grantToken && isListing(c)).length;
  assert.equal(firstListings, 4);

  const scopesSeen = new Set(Object.keys(first.scopes));
  let last = first;
  for (let i = 0; i < 20 && last.budgetExhausted; i++) {
    h.fake.resetCalls();
    last = await reconcile(t, 'full', options);
    assert.equal(last.resumed, true, 'each run resumes the cut one');
    const listings = h.fake.callLog.filter((c) => c.agreement === t.grantToken && isListing(c));
    // Never from the start again: the customers' first page is listed by the first run only.
    assert.ok(!listings.some((c) => c.endpoint === '/customers' && new URLSearchParams(c.query).get('skippages') === '0'), 'resumed, not restarted');
    for (const scope of Object.keys(last.scopes)) scopesSeen.add(scope);
  }
  assert.equal(last.budgetExhausted, false, 'the later scopes were reached');
  assert.ok(scopesSeen.has('booked-invoice') && scopesSeen.has('draft-invoice'), `scopes reached: ${[...scopesSeen].join(', ')}`);
  const [tenantRow] = await h.database.db.select().from(reconcileState).where(and(eq(reconcileState.tenantId, t.id), eq(reconcileState.scope, '*')));
  assert.equal(tenantRow?.resume, null, 'nothing left to resume');
  assert.ok(tenantRow?.lastFullRunAt instanceof Date);
  const booked = await h.database.db.select().from(economicBookedInvoices).where(eq(economicBookedInvoices.tenantId, t.id));
  assert.equal(booked.length, 2);
});
