// Reconciliation at scale and under interruption: a 10,000-document tenant is compared page
// by page with memory bounded by one page and exactly the listing calls paging requires; an attempt
// that dies mid-listing resumes from its heartbeated cursor instead of starting over. Changed entities
// go reconciliation's bulk lane (activities/bulk-sync.ts); deletions go their entity workflows.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import type { ReconcileScopeInput, ReconcileScopeResult } from '../activities/reconcile';
import { RECONCILE_WORKFLOW_TYPE, type ScopeCursor } from '../src/shared/reconcile';
import type { reconcileWorkflow } from '../workflows/reconcile';
import {
  economicBookedInvoices,
  economicCustomers,
  economicDraftInvoices,
  economicOrders,
  economicProjects,
  economicQuotes,
} from '../src/db/schema';
import { DOC_STATES, seedAgreement, type DocRec } from './fake-economic';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';
import { startTestWorker, uniqueTaskQueue } from './helpers/temporal';
import { entityWorkflowsOn } from '../src/temporal/signal-entity';

let h: SyncHarness;
// Entity workflows signalled by these tests go to a task queue no worker polls: syncing thousands of
// entities one workflow each takes minutes on two cores (starting 10,000 workflows alone does), and the
// entity workflow itself is covered by test/sync-entities.test.ts and by test/reconcile.test.ts (which
// lets reconciliation drive it). Measured here is reconciliation's own part: listing, comparing page by
// page, committing the changed ones in bulk and signalling exactly the deletions. The big tenant is therefore mirrored into Postgres first
// (a steady state, as after earlier syncs), then a known set of changes is made behind its back.
const undrained = uniqueTaskQueue('undrained');
const reconcileQueue = uniqueTaskQueue('reconcile');

const STATUS = { drafts: 'draft', sent: 'sent', archived: 'archived' } as const;
/** The draft invoices' listing call, not a draft's fetch. */
const DRAFT_LISTING = /^\/invoices\/drafts$/;

/** Writes the fake's current state straight into the read model (headers only), in bulk. */
async function mirrorIntoDatabase(t: TestTenant): Promise<void> {
  const db = h.database.db;
  const a = t.agreement;
  const chunked = async <T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>) => {
    for (let i = 0; i < rows.length; i += 1000) await insert(rows.slice(i, i + 1000));
  };
  const base = { tenantId: t.id, data: {} };
  const lu = (v: string | undefined) => (v ? new Date(v) : null);
  await chunked(a.customers.list().map((c) => ({ ...base, customerNumber: c.customerNumber, name: c.name, currency: c.currency, lastUpdated: lu(c.lastUpdated) })), (c) =>
    db.insert(economicCustomers).values(c),
  );
  await chunked(a.projects.list().map((p) => ({ ...base, projectNumber: p.number, name: p.name, customerNumber: p.customerNumber, lastUpdated: lu(p.lastUpdated) })), (c) =>
    db.insert(economicProjects).values(c),
  );
  const docs = (d: DocRec) => ({ ...base, customerNumber: d.customerNumber, projectNumber: d.projectNumber ?? null, currency: d.currency });
  for (const state of DOC_STATES) {
    const lastUpdated = (d: DocRec) => (state === 'archived' ? null : lu(d.lastUpdated));
    await chunked(a.orders[state].list().map((d) => ({ ...docs(d), orderNumber: d.number, status: STATUS[state], lastUpdated: lastUpdated(d) })), (c) => db.insert(economicOrders).values(c));
    await chunked(a.quotes[state].list().map((d) => ({ ...docs(d), quoteNumber: d.number, status: STATUS[state], lastUpdated: lastUpdated(d) })), (c) => db.insert(economicQuotes).values(c));
  }
  await chunked(a.draftInvoices.list().map((d) => ({ ...docs(d), draftInvoiceNumber: d.number, lastUpdated: lu(d.lastUpdated) })), (c) => db.insert(economicDraftInvoices).values(c));
  await chunked(a.bookedInvoices.list().map((d) => ({ ...docs(d), bookedInvoiceNumber: d.number, remainder: String(d.remainder ?? 0) })), (c) =>
    db.insert(economicBookedInvoices).values(c),
  );
}

before(async () => {
  h = await startSyncHarness();
  await startTestWorker(h.temporal, { ...h.activityDeps, entities: entityWorkflowsOn(h.temporal.env.client, undrained) }, reconcileQueue).then((w) => {
    stopWorker = () => w.stop();
  });
});

let stopWorker: (() => Promise<void>) | undefined;

after(async () => {
  await stopWorker?.();
  await h?.close();
});

const listPath = (path: string) => !/\/(\d+|\{n\})$/.test(path);

test('a tenant of 10,000 documents: one page in memory at a time, ceil(n/pageSize) calls per listing, exactly the changes synced', async () => {
  const big = await h.createTenant('big');
  const seeded = seedAgreement(big.agreement, { customers: 50, projects: 120, ordersPerState: 1000, quotesPerState: 1000, draftInvoices: 2000, bookedInvoices: 2000, linesPerDocument: 1 });
  const pageSize = 1000;
  await mirrorIntoDatabase(big);
  // Behind the database's back: 30 orders edited, 20 draft invoices deleted, 10 invoices paid.
  const a = big.agreement;
  for (const n of seeded.orders.drafts.slice(0, 30)) a.updateOrder(n, { heading: 'ændret' });
  for (const n of seeded.draftInvoices.slice(0, 20)) a.deleteDraftInvoice(n);
  const unpaid = a.bookedInvoices.list().filter((b) => (b.remainder ?? 0) > 0).slice(0, 10);
  for (const b of unpaid) a.payInvoice(b.number, 1);
  h.fake.resetCalls();

  const summary = await h.temporal.env.client.workflow.execute<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId: 'reconcile/big/scale',
    taskQueue: reconcileQueue,
    // One page per activity call: the workflow carries the cursor from call to call.
    args: [{ tenantId: big.id, tenant: 'big', mode: 'full', options: { pageSize, pagesPerActivity: 1, waitForEntities: false, concurrency: 32 } }],
  });

  const pages = (n: number) => Math.max(1, Math.ceil(n / pageSize));
  const expected: Record<string, number> = {
    '/customers': pages(seeded.customers.length),
    '/Projects': pages(seeded.projects.length),
    '/orders/drafts': pages(seeded.orders.drafts.length),
    '/orders/sent': pages(seeded.orders.sent.length),
    '/orders/archived': pages(seeded.orders.archived.length),
    '/quotes/drafts': pages(seeded.quotes.drafts.length),
    '/quotes/sent': pages(seeded.quotes.sent.length),
    '/quotes/archived': pages(seeded.quotes.archived.length),
    '/invoices/drafts': pages(seeded.draftInvoices.length - 20),
    '/invoices/unpaid': pages(a.bookedInvoices.list().filter((b) => (b.remainder ?? 0) > 0).length),
    '/invoices/booked': pages(seeded.bookedInvoices.length),
  };
  const calls = h.fake.calls(big.grantToken).byEndpoint;
  // The tenant's first grant is verified once (GET /self) before its first data call (docs/webhook.md).
  assert.equal(calls['/self'], 1, 'the grant is verified once, not per page or per scope');
  const listingCalls = Object.fromEntries(Object.entries(calls).filter(([endpoint]) => endpoint !== '/self' && listPath(endpoint)));
  assert.deepEqual(listingCalls, expected, 'listing calls are exactly what paging requires');
  // The bulk lane fetches the changed ones (and a paid invoice's customer's open drafts, as a sync would).
  const fetchedOrders = h.fake.callLog.filter((c) => c.agreement === big.grantToken && /^\/orders\/\w+\/\d+$/.test(c.path)).length;
  assert.equal(fetchedOrders, 30, 'each edited order fetched once');
  const totalListing = Object.values(expected).reduce((s, n) => s + n, 0);
  assert.equal(summary.listCalls, totalListing);

  const entities = 10_000 - 20 + seeded.customers.length + seeded.projects.length;
  // Every listed entity, plus the 20 drafts only Postgres still has.
  // (The unpaid invoices are listed twice: open documents first, then all booked invoices with the history.)
  const unpaidListed = summary.scopes['booked-invoice:unpaid']?.checked ?? 0;
  assert.equal(summary.checked, entities + 20 + unpaidListed);
  assert.equal(summary.signalled, 20, 'exactly the deleted ones go their entity workflows');
  assert.equal(summary.bulk, 30 + 10, 'the edited and the paid ones are committed in bulk');
  assert.equal(summary.scopes['order:drafts']?.bulk, 30);
  assert.equal(summary.scopes['draft-invoice']?.signalled, 20);
  // The paid ones are open documents: the unpaid listing, ahead of the history, finds them.
  assert.equal(summary.scopes['booked-invoice:unpaid']?.bulk, 10);
  for (const [scope, counts] of Object.entries(summary.scopes)) {
    assert.ok(counts && counts.peakItemsInMemory <= 2 * pageSize, `${scope} held ${counts?.peakItemsInMemory} items at once`);
  }
  // The signal went where entity workflows run, as a `change` from reconciliation.
  const described = await h.temporal.env.client.workflow.getHandle(`economic/big/draft-invoice/${seeded.draftInvoices[0]}`).describe();
  assert.equal(described.taskQueue, undrained);
});

test('a listing interrupted after three pages resumes at its heartbeated cursor, not from the start', async () => {
  const resume = await h.createTenant('resume');
  seedAgreement(resume.agreement, { customers: 1, draftInvoices: 50, linesPerDocument: 1, seed: 3 });
  const activities = createActivities({ ...h.activityDeps, entities: entityWorkflowsOn(h.temporal.env.client, undrained) });
  const input: ReconcileScopeInput = {
    tenantId: resume.id,
    tenant: 'resume',
    runId: 'resume-run',
    scope: 'draft-invoice',
    full: true,
    maxPages: 100,
    options: { pageSize: 10, waitForEntities: false },
  };
  h.fake.resetCalls();

  // First attempt: e-conomic fails the fourth listing call, page 3's, which is listed while page 2 is
  // synced; the attempt fails once page 2 is committed (a killed worker or a failed attempt look the same
  // to the next attempt: all it has is the last heartbeat).
  h.fake.faults.inject({ agreement: resume.grantToken, path: DRAFT_LISTING, after: 3, times: 1, kind: '500' });
  const first = new MockActivityEnvironment({ attempt: 1 });
  let last: ScopeCursor | undefined;
  first.on('heartbeat', (details: ScopeCursor) => {
    last = structuredClone(details);
  });
  await assert.rejects(first.run((i: ReconcileScopeInput) => activities.reconcileScope(i), input));
  assert.equal(last?.skipPages, 3);
  assert.equal(last?.counts.checked, 30);

  const second = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: last });
  const result: ReconcileScopeResult = await second.run((i: ReconcileScopeInput) => activities.reconcileScope(i), input);
  assert.equal(result.done, true);

  const skipped = h.fake.callLog
    .filter((c) => c.agreement === resume.grantToken && c.endpoint === '/invoices/drafts')
    .map((c) => Number(new URLSearchParams(c.query).get('skippages')));
  // Pages 0-2 once, page 3 twice (the failed call and its retry), page 4 once: nothing started over.
  assert.deepEqual(skipped, [0, 1, 2, 3, 3, 4]);
  assert.equal(result.cursor.counts.checked, 50, 'each draft counted once across both attempts');
  assert.equal(result.cursor.counts.bulk, 50, 'each draft committed in bulk, counted once');
  assert.equal(result.cursor.counts.signalled, 0);
  assert.equal(result.cursor.counts.calls, 5, "completed listing calls: the failed one is not counted");
});

test('on the real worker, a failed attempt is retried from the last heartbeat (no page listed twice but the failed one)', async () => {
  const tenant = await h.createTenant('resume-worker');
  seedAgreement(tenant.agreement, { customers: 1, draftInvoices: 50, linesPerDocument: 1, seed: 5 });
  // The fourth listing call of /invoices/drafts fails (500): the attempt dies after three pages.
  h.fake.faults.inject({ agreement: tenant.grantToken, path: DRAFT_LISTING, after: 3, times: 1, kind: '500' });
  h.fake.resetCalls();
  const summary = await h.temporal.env.client.workflow.execute<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId: 'reconcile/resume-worker/test',
    taskQueue: reconcileQueue,
    args: [{ tenantId: tenant.id, tenant: tenant.name, mode: 'full', options: { pageSize: 10, waitForEntities: false } }],
  });
  assert.equal(summary.scopes['draft-invoice']?.checked, 50);
  assert.equal(summary.scopes['draft-invoice']?.bulk, 50);
  const skipped = h.fake.callLog
    .filter((c) => c.agreement === tenant.grantToken && c.endpoint === '/invoices/drafts')
    .map((c) => Number(new URLSearchParams(c.query).get('skippages')));
  assert.deepEqual(skipped, [0, 1, 2, 3, 3, 4]);
});
