// Reconciliation's bulk lane (activities/bulk-sync.ts, docs/architecture.md) on the real dev server, real
// Postgres and the fake e-conomic over HTTP: an onboarding commits everything without an entity workflow
// per entity; an entity whose workflow is running, or whose sync_state asks for one (a failed sync, a
// pending renumbering), or that is gone between listing and fetch, goes its entity workflow; an attempt
// that fails mid-scope (a 429 on a fetch) is retried from its heartbeat cursor without losing or
// double-counting an entity; booked invoices re-check their candidate drafts once per page, each draft
// fetched once, and a failed re-check hands the invoices that named the draft to their entity workflows.
// Commits stream behind the fetches: a 429 mid-page keeps what was committed before it. A scope's last
// page is synced while the next scope's first page is listed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client';
import { economicDraftInvoices, reconcileState, syncState } from '../src/db/schema';
import { entityWorkflowId } from '../src/shared/entities';
import { RECONCILE_WORKFLOW_TYPE } from '../src/shared/reconcile';
import { entityChange } from '../src/shared/sync-signals';
import { createEntityStore } from '../src/store/entity-store';
import { createReconcileStore } from '../src/store/reconcile-store';
import { entityWorkflowsOn, signalEntityChange } from '../src/temporal/signal-entity';
import { createActivities } from '../activities';
import { bulkSync } from '../activities/bulk-sync';
import { createEconomicAccess } from '../activities/economic-access';
import { CallCounter } from '../src/economic';
import { FAILURE_TYPES } from '../src/shared/failure-types';
import type { ReconcileScopeInput, ReconcileScopeResult } from '../activities/reconcile';
import type { reconcileWorkflow } from '../workflows/reconcile';
import { seedAgreement } from './fake-economic';
import { assertTenantConverged } from './helpers/converged';
import { gate } from './helpers/gate';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';
import { uniqueTaskQueue } from './helpers/temporal';
import { waitFor } from './helpers/wait';

let h: SyncHarness;
// Entity workflows started here on purpose stay running: no worker polls this queue.
const undrained = uniqueTaskQueue('undrained');

before(async () => {
  h = await startSyncHarness();
  await h.startWorker();
});

after(async () => {
  await h?.close();
});

/** Entity workflows of the tenant that visibility knows, running or closed. */
async function entityWorkflows(tenant: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of h.temporal.env.client.workflow.list({ query: `WorkflowType = 'entitySyncWorkflow' AND EconomicTenant = '${tenant}'` })) ids.push(w.workflowId);
  return ids;
}

async function liveDrafts(t: TestTenant): Promise<number[]> {
  const rows = await h.database.db
    .select({ n: economicDraftInvoices.draftInvoiceNumber })
    .from(economicDraftInvoices)
    .where(and(eq(economicDraftInvoices.tenantId, t.id), isNull(economicDraftInvoices.deletedAt)));
  return rows.map((r) => r.n).sort((a, b) => a - b);
}

test('onboarding: a full run into an empty database commits everything in bulk, one entity workflow only for the one gone since its listing', async () => {
  const t = await h.createTenant('onboard-bulk');
  seedAgreement(t.agreement, { customers: 8, projects: 5, ordersPerState: 6, quotesPerState: 6, draftInvoices: 8, bookedInvoices: 10, linesPerDocument: 2, seed: 21 });
  // One sent order is deleted in e-conomic after its listing, before the bulk lane fetches it (a 404).
  const gone = t.agreement.orders.sent.list()[0]!.number;
  const faults = h.fake.faults;
  const take = faults.take.bind(faults);
  faults.take = (agreement, paths) => {
    if (agreement === t.grantToken && paths.some((p) => p === `/orders/sent/${gone}`)) t.agreement.deleteOrder(gone);
    return take(agreement, paths);
  };
  h.fake.resetCalls();
  let summary;
  try {
    summary = await h.temporal.env.client.workflow.execute<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
      workflowId: `reconcile/${t.name}/onboard`,
      taskQueue: h.reconcileTaskQueue,
      args: [{ tenantId: t.id, tenant: t.name, mode: 'full', options: { pageSize: 7 } }],
    });
  } finally {
    faults.take = take;
  }
  await assertTenantConverged(h.database.db, t);

  assert.equal(summary.signalled, 1, 'only the order gone since its listing went its entity workflow');
  assert.equal(await createReconcileStore(h.database.db).progress(t.id), undefined, 'the progress is cleared when the run ends');
  assert.equal(summary.failed, 0);
  assert.deepEqual(await entityWorkflows(t.name), [entityWorkflowId(t.name, 'order', gone)]);
  const entities = 8 + 5 + 6 * 3 * 2 + 8 + 10;
  assert.equal(summary.bulk, entities - 1, 'every other entity committed by the bulk lane');
  assert.equal(summary.synced, entities, 'bulk commits count as synced, with the one the workflow handled');

  // Every bulk-committed entity has its sync outcome under its entity workflow's id (status, retry-failed).
  const [state] = await queryRows<{ n: number; wrong: number }>(
    h.database.db,
    sql`select count(*)::int as n, count(*) filter (where workflow_id <> 'economic/' || ${t.name} || '/' || kind || '/' || number or last_outcome <> 'synced')::int as wrong
        from sync_state where tenant_id = ${t.id}`,
  );
  assert.equal(state?.n, entities, 'one sync_state row per entity (the gone order: its workflow found nothing to mark)');
  assert.equal(state?.wrong, 0);

  // Dependencies are resolved once: every customer is fetched exactly once in the whole run.
  const customerFetches = h.fake.callLog.filter((c) => c.agreement === t.grantToken && /^\/customers\/\d+$/.test(c.path));
  assert.equal(customerFetches.length, 8);
  assert.equal(new Set(customerFetches.map((c) => c.path)).size, 8);
});

test('a running entity workflow, a failed sync and a pending renumbering go the entity workflow; the rest is committed in bulk', async () => {
  const t = await h.createTenant('bulk-routing');
  const seeded = seedAgreement(t.agreement, { customers: 2, projects: 0, ordersPerState: 0, quotesPerState: 0, draftInvoices: 10, bookedInvoices: 0, linesPerDocument: 1, seed: 22 });
  const [running, failed, renumbered] = seeded.draftInvoices as [number, number, number];
  const client = h.temporal.env.client;
  // A webhook's sync in flight: its workflow is running (on a queue nobody polls, so it stays running).
  await signalEntityChange(client, undrained, entityChange({ tenantId: t.id, tenant: t.name, kind: 'draft-invoice', number: running }, { eventId: 'webhook-1', source: 'eConomicInvoiceDraft', receivedAt: new Date() }));
  await waitFor('visibility to show the running entity workflow', async () => (await entityWorkflows(t.name)).length === 1);
  const store = createEntityStore(h.database.db);
  const workflowId = (n: number) => entityWorkflowId(t.name, 'draft-invoice', n);
  await store.recordOutcome({ tenantId: t.id, kind: 'draft-invoice', number: failed, workflowId: workflowId(failed), outcome: 'failed', errorType: 'EconomicTransient', error: 'e-conomic failed' });
  await store.recordOutcome({ tenantId: t.id, kind: 'draft-invoice', number: renumbered, workflowId: workflowId(renumbered), outcome: 'failed', errorType: 'X', error: 'y', oldNumber: 9999 });

  const activities = createActivities({ ...h.activityDeps, entities: entityWorkflowsOn(client, undrained) });
  const input: ReconcileScopeInput = { tenantId: t.id, tenant: t.name, runId: 'routing-run', scope: 'draft-invoice', full: true, maxPages: 100, options: { pageSize: 4 } };
  const result: ReconcileScopeResult = await new MockActivityEnvironment().run((i: ReconcileScopeInput) => activities.reconcileScope(i), input);

  assert.equal(result.done, true);
  assert.deepEqual(result.signalled.map((e) => e.number).sort((a, b) => a - b), [running, failed, renumbered].sort((a, b) => a - b));
  assert.equal(result.cursor.counts.bulk, 7);
  assert.equal(result.cursor.counts.signalled, 3);
  assert.deepEqual(await liveDrafts(t), seeded.draftInvoices.filter((n) => ![running, failed, renumbered].includes(n)).sort((a, b) => a - b));
  // The scope's progress on the tenant's row (status, the reconcile command): e-conomic's count included.
  const progress = await createReconcileStore(h.database.db).progress(t.id);
  assert.deepEqual(
    progress && { scope: progress.scope, checked: progress.checked, total: progress.total, bulk: progress.bulk, signalled: progress.signalled },
    { scope: 'draft-invoice', checked: 10, total: 10, bulk: 7, signalled: 3 },
  );
  // The failed sync's pending renumbering is left for its workflow to apply.
  const [pending] = await h.database.db.select().from(syncState).where(and(eq(syncState.tenantId, t.id), eq(syncState.number, renumbered)));
  assert.equal(pending?.pendingOldNumber, 9999);
  await client.workflow.getHandle(workflowId(running)).terminate('test over');
});

test('a 429 on a fetch mid-scope: the retried attempt resumes at the heartbeat cursor, nothing lost or counted twice', async () => {
  const t = await h.createTenant('bulk-resume');
  const seeded = seedAgreement(t.agreement, { customers: 1, projects: 0, ordersPerState: 0, quotesPerState: 0, draftInvoices: 50, bookedInvoices: 0, linesPerDocument: 1, seed: 23 });
  // A fetch of the fourth page's drafts is throttled once: the attempt fails after three pages were committed.
  const throttled = `/invoices/drafts/${seeded.draftInvoices[35]}`;
  h.fake.faults.inject({ agreement: t.grantToken, path: new RegExp(`^${throttled}$`), times: 1, kind: '429', retryAfterSeconds: 1 });
  h.fake.resetCalls();
  const summary = await h.temporal.env.client.workflow.execute<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId: `reconcile/${t.name}/test`,
    taskQueue: h.reconcileTaskQueue,
    args: [{ tenantId: t.id, tenant: t.name, mode: 'full', options: { pageSize: 10 } }],
  });
  const hits = h.fake.callLog.filter((c) => c.agreement === t.grantToken && c.path.endsWith(throttled)).length;
  assert.equal(hits, 2, 'the throttled fetch was made again by the retried attempt');
  const counts = summary.scopes['draft-invoice'];
  assert.equal(counts?.checked, 50, 'each draft counted once across both attempts');
  assert.equal(counts?.bulk, 50, 'each draft committed once across both attempts');
  assert.equal(counts?.signalled, 0);
  assert.equal(summary.failed, 0);
  assert.deepEqual(await liveDrafts(t), [...seeded.draftInvoices].sort((a, b) => a - b));
  const listed = h.fake.callLog
    .filter((c) => c.agreement === t.grantToken && c.endpoint === '/invoices/drafts')
    .map((c) => Number(new URLSearchParams(c.query).get('skippages')));
  // The first attempt listed page 4 ahead while page 3's fetches ran (whether that call reached e-conomic
  // before the attempt failed depends on timing); the retried attempt lists from page 3 again.
  const times = (page: number) => listed.filter((p) => p === page).length;
  assert.deepEqual(listed.slice(0, 3), [0, 1, 2]);
  assert.deepEqual([0, 1, 2, 3].map(times), [1, 1, 1, 2], 'the interrupted page listed again, nothing before it');
  assert.ok(times(4) >= 1 && times(4) <= 2 && listed.length === 5 + times(4), `listed ${listed.join(', ')}`);
});

test("the next scope's first page is listed while the last page of the scope before it is synced; its watermark is from before that listing", async () => {
  const t = await h.createTenant('list-ahead');
  seedAgreement(t.agreement, { customers: 4, projects: 3, ordersPerState: 2, quotesPerState: 2, draftInvoices: 2, bookedInvoices: 2, linesPerDocument: 1, seed: 5 });
  h.fake.resetCalls();
  // The customer scope's fetches wait until the project listing has come in: without the listing ahead,
  // the project scope would list only after the customer scope ended, and this would wait in vain.
  const held = gate();
  h.fake.faults.inject({ agreement: t.grantToken, path: /^\/customers\/\d+$/, times: 4, kind: 'held', until: held.until });
  const projectListings = () => h.fake.callLog.filter((c) => c.agreement === t.grantToken && c.endpoint === '/Projects');
  const run = h.temporal.env.client.workflow.execute<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId: `reconcile/${t.name}/ahead`,
    taskQueue: h.reconcileTaskQueue,
    args: [{ tenantId: t.id, tenant: t.name, mode: 'full' }],
  });
  let listedAt: number;
  try {
    listedAt = (await waitFor('the project listing while customers are still being fetched', () => projectListings()[0], 20_000)).time;
    assert.equal(
      h.fake.callLog.filter((c) => c.agreement === t.grantToken && /^\/customers\/\d+$/.test(c.path) && c.status === 200).length,
      0,
      'no customer fetch had been answered yet',
    );
  } finally {
    held.release();
  }
  const summary = await run;
  await assertTenantConverged(h.database.db, t);
  assert.equal(summary.failed, 0);
  assert.equal(summary.bulk, 4 + 3 + 2 * 3 * 2 + 2 + 2, 'everything committed in bulk');
  // The page listed ahead is the project scope's listing: listed once, not again by its own activity.
  assert.equal(projectListings().length, 1);
  const listingCalls = h.fake.callLog.filter((c) => c.agreement === t.grantToken && !/\/\d+$/.test(c.path) && c.path !== '/self');
  assert.equal(listingCalls.length, summary.listCalls, `every listing call is counted once: ${listingCalls.map((c) => c.path).join(', ')}`);
  // The project scope's scan began before its (early) listing: the next incremental run lists from there.
  const [state] = await h.database.db.select().from(reconcileState).where(and(eq(reconcileState.tenantId, t.id), eq(reconcileState.scope, 'project')));
  assert.ok(state?.watermark, 'the project scope recorded its watermark');
  assert.ok(state.watermark.getTime() <= listedAt, `watermark ${state.watermark.toISOString()} is not after the listing at ${new Date(listedAt).toISOString()}`);
});

/** Runs one scope of a full run in a mock activity context, entity workflows going to the undrained queue. */
async function reconcileOneScope(t: TestTenant, scope: ReconcileScopeInput['scope'], runId: string, pageSize = 10): Promise<ReconcileScopeResult> {
  const activities = createActivities({ ...h.activityDeps, entities: entityWorkflowsOn(h.temporal.env.client, undrained) });
  const input: ReconcileScopeInput = { tenantId: t.id, tenant: t.name, runId, scope, full: true, maxPages: 100, options: { pageSize } };
  return new MockActivityEnvironment().run((i: ReconcileScopeInput) => activities.reconcileScope(i), input);
}

/** The draft GETs the tenant's agreement answered, by draft number. */
function draftFetches(t: TestTenant): number[] {
  return h.fake.callLog
    .filter((c) => c.agreement === t.grantToken && /^\/invoices\/drafts\/\d+$/.test(c.path))
    .map((c) => Number(c.path.split('/').at(-1)))
    .sort((a, b) => a - b);
}

test("booked invoices of one customer share their candidate drafts: the page fetches each once, and the booked ones end deleted", async () => {
  const t = await h.createTenant('bulk-recheck');
  const seeded = seedAgreement(t.agreement, { customers: 2, projects: 0, ordersPerState: 0, quotesPerState: 0, draftInvoices: 0, bookedInvoices: 0, linesPerDocument: 1, seed: 24 });
  const [c1, c2] = seeded.customers as [number, number];
  const hundred = [{ description: 'Konsulent', quantity: 1, unitNetPrice: 100 }];
  const drafts = [0, 1, 2, 3].map(() => t.agreement.createDraftInvoice({ customerNumber: c1, lines: hundred }));
  const otherAmount = t.agreement.createDraftInvoice({ customerNumber: c1, lines: [{ description: 'Andet', quantity: 1, unitNetPrice: 50 }] });
  assert.equal((await reconcileOneScope(t, 'draft-invoice', 'recheck-drafts')).cursor.counts.bulk, 5);

  // Two of the drafts are booked; three more booked invoices of the customer, and one of another, have the same amount.
  const [booked0, booked1] = [t.agreement.bookDraftInvoice(drafts[0]!), t.agreement.bookDraftInvoice(drafts[1]!)];
  const direct = [0, 1, 2].map(() => t.agreement.createBookedInvoice({ customerNumber: c1, lines: hundred }));
  t.agreement.createBookedInvoice({ customerNumber: c2, lines: hundred });
  h.fake.resetCalls();
  const result = await reconcileOneScope(t, 'booked-invoice', 'recheck-booked');

  assert.equal(result.cursor.counts.bulk, 6, 'every booked invoice committed in bulk');
  assert.deepEqual(result.signalled, []);
  // Five booked invoices name the same four drafts: each is fetched once, the other amount's not at all.
  assert.deepEqual(draftFetches(t), [...drafts].sort((a, b) => a - b));
  assert.deepEqual(await liveDrafts(t), [drafts[2]!, drafts[3]!, otherAmount].sort((a, b) => a - b), 'the booked drafts are marked deleted');
  assert.ok(booked0 !== booked1 && direct.length === 3);
});

test("a draft whose re-check fetch fails hands the page's booked invoices that named it to their entity workflows", async () => {
  const t = await h.createTenant('bulk-recheck-fail');
  const seeded = seedAgreement(t.agreement, { customers: 2, projects: 0, ordersPerState: 0, quotesPerState: 0, draftInvoices: 0, bookedInvoices: 0, linesPerDocument: 1, seed: 25 });
  const [c1, c2] = seeded.customers as [number, number];
  const hundred = [{ description: 'Konsulent', quantity: 1, unitNetPrice: 100 }];
  const failing = t.agreement.createDraftInvoice({ customerNumber: c1, lines: hundred });
  const fine = t.agreement.createDraftInvoice({ customerNumber: c2, lines: hundred });
  await reconcileOneScope(t, 'draft-invoice', 'recheck-fail-drafts');
  const naming = [0, 1].map(() => t.agreement.createBookedInvoice({ customerNumber: c1, lines: hundred }));
  const other = t.agreement.createBookedInvoice({ customerNumber: c2, lines: hundred });
  // e-conomic fails the one draft's re-check (a 500, which the bulk lane hands over).
  h.fake.faults.inject({ agreement: t.grantToken, path: new RegExp(`^/invoices/drafts/${failing}$`), times: 1, kind: '500' });
  h.fake.resetCalls();
  const result = await reconcileOneScope(t, 'booked-invoice', 'recheck-fail-booked');

  assert.deepEqual(result.signalled.map((e) => e.number).sort((a, b) => a - b), [...naming].sort((a, b) => a - b), 'the invoices that named the draft go their workflows');
  assert.equal(result.cursor.counts.bulk, 1, 'the other customer\'s invoice stays committed in bulk');
  assert.deepEqual(draftFetches(t), [failing, fine].sort((a, b) => a - b), 'each candidate fetched once');
  assert.deepEqual(await liveDrafts(t), [failing, fine].sort((a, b) => a - b));
  assert.ok(other > 0);
  for (const n of naming) await h.temporal.env.client.workflow.getHandle(entityWorkflowId(t.name, 'booked-invoice', n)).terminate('test over');
});

test('commits stream behind the fetches: a 429 mid-page keeps the batches committed before it, and starts none after it', async () => {
  const t = await h.createTenant('bulk-stream');
  const seeded = seedAgreement(t.agreement, { customers: 1, projects: 0, ordersPerState: 0, quotesPerState: 0, draftInvoices: 30, bookedInvoices: 0, linesPerDocument: 1, seed: 29 });
  const drafts = [...seeded.draftInvoices].sort((a, b) => a - b);
  // The 25th fetch is throttled: batches of 10 at one fetch at a time, so two batches are committed by then.
  const throttled = `/invoices/drafts/${drafts[24]}`;
  const faults = h.fake.faults;
  const take = faults.take.bind(faults);
  faults.take = (agreement, paths) => (agreement === t.grantToken && paths.includes(throttled) ? { kind: '429', times: 1, retryAfterSeconds: 1 } : take(agreement, paths));
  try {
    const access = createEconomicAccess({ ...h.activityDeps, callCounter: new CallCounter() });
    const session = await access.open({ tenantId: t.id, tenant: t.name }, undefined, { priority: 'reconcile' });
    await assert.rejects(
      bulkSync(session, createEntityStore(h.database.db), { tenantId: t.id, tenant: t.name, kind: 'draft-invoice', numbers: drafts, concurrency: 1, batchSize: 10 }),
      (err: unknown) => (err as { type?: string }).type === FAILURE_TYPES.rateLimited,
    );
  } finally {
    faults.take = take;
  }
  assert.deepEqual(await liveDrafts(t), drafts.slice(0, 20), 'the two full batches before the 429, none of the four fetched after them');
});
