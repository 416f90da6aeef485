// e-conomic's call budget per agreement, shared through Postgres by every worker (docs/economic-api.md,
// "The call budget"), on the real dev server, real Postgres and the fake e-conomic over HTTP: a
// reconciliation that would exceed its share stops as budget-cut and a later run resumes it; webhook
// syncs of the tenant still sync meanwhile and fail typed (calling nothing) only past the whole budget;
// a 429 seen by one worker pauses the agreement for a second worker with its own activities and pool.
// Everything is asserted on the fake's call counts and the budget's rows, never on time. The end of a
// 24-hour window is played by moving the window's row a day back (what the next UTC day does).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { and, eq, sql } from 'drizzle-orm';
import { runCommand } from '../src/cli/commands';
import { loadConfig } from '../src/config';
import { openDatabase, type DatabaseHandle } from '../src/db/client';
import { createCallBudget } from '../src/access/call-budget';
import { economicAgreementPauses, economicCallBudget, economicCustomers, reconcileState } from '../src/db/schema';
import { CallCounter, isEconomicError } from '../src/economic';
import { FAILURE_TYPES } from '../src/shared/failure-types';
import { RECONCILE_WORKFLOW_TYPE, type ReconcileOptions, type ReconcileSummary } from '../src/shared/reconcile';
import { entityChange } from '../src/shared/sync-signals';
import { signalEntityChange } from '../src/temporal/signal-entity';
import type { entitySyncWorkflow } from '../workflows/entity-sync';
import type { reconcileWorkflow } from '../workflows/reconcile';
import { seedAgreement } from './fake-economic';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';
import { startTestWorker, uniqueTaskQueue } from './helpers/temporal';
import { waitFor } from './helpers/wait';

/** Small enough that a reconciliation of 20 customers in pages of 2 runs out of its share (80 %: 32 calls). */
const BUDGET = 40;
const RECONCILE_SHARE = 32;

let h: SyncHarness;

before(async () => {
  h = await startSyncHarness();
  h.activityDeps.economic.dailyCallBudget = BUDGET;
  await h.startWorker();
});

after(async () => {
  await h?.close();
});

const NOTHING_ELSE = { projects: 0, ordersPerState: 0, quotesPerState: 0, draftInvoices: 0, bookedInvoices: 0, linesPerDocument: 1 } as const;
/** Pages of two, and at most two entities awaited at once: the calls after the cut stay well inside the budget. */
const OPTIONS: ReconcileOptions = { pageSize: 2, maxOutstanding: 2 };

/** e-conomic listing calls (not `/self`, not an entity's own GET). */
const isListing = (c: { path: string; endpoint: string }) => c.endpoint !== '/self' && !/\/\d+$/.test(c.path);

let runs = 0;
async function reconcile(t: TestTenant, mode: 'full' | 'incremental' = 'full'): Promise<ReconcileSummary> {
  const handle = await h.temporal.env.client.workflow.start<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId: `reconcile/${t.name}/budget-${++runs}`,
    taskQueue: h.reconcileTaskQueue,
    args: [{ tenantId: t.id, tenant: t.name, mode, options: OPTIONS }],
  });
  return handle.result();
}

async function agreementOf(t: TestTenant): Promise<number> {
  return Promise.resolve(t.agreement.agreementNumber);
}

/** Calls the budget counted for the agreement in the current window. */
async function used(t: TestTenant): Promise<number> {
  const rows = await h.database.db
    .select()
    .from(economicCallBudget)
    .where(and(eq(economicCallBudget.agreementNumber, await agreementOf(t)), sql`${economicCallBudget.windowStart} = to_timestamp(floor(extract(epoch from now()) / 86400) * 86400)`));
  return rows[0]?.calls ?? 0;
}

/** The next UTC day: the current window's calls move a day back, so they no longer count. */
async function windowEnds(t: TestTenant): Promise<void> {
  await h.database.db.execute(sql`update economic_call_budget set window_start = window_start - interval '1 day' where agreement_number = ${await agreementOf(t)}`);
}

/** Binds the tenant to its agreement with one webhook sync (the budget applies to bound tenants). */
async function bind(t: TestTenant, customer: number): Promise<void> {
  assert.equal((await (await h.signal(t, 'customer', customer)).result()).lastOutcome, 'synced');
}

function cliContext() {
  return { config: loadConfig({ TEMPORAL_TASK_QUEUE: h.taskQueue, ECONOMIC_DAILY_CALL_BUDGET: String(BUDGET) }), db: h.database.db, temporal: () => Promise.resolve(h.temporal.env.client) };
}

/** The failure type of the entity workflow's pending sync attempt, once it failed. */
async function pendingFailureType(handle: { describe(): Promise<{ raw: { pendingActivities?: Array<{ lastFailure?: { applicationFailureInfo?: { type?: string | null } | null } | null }> | null } }> }) {
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  return pending.map((a) => a.lastFailure?.applicationFailureInfo?.type).find((type) => typeof type === 'string');
}

let shared: { t: TestTenant; customers: number[]; firstListings: number };

test('a reconciliation that would exceed its share of the daily budget stops as budget-cut', async () => {
  const t = await h.createTenant('budget');
  const { customers } = seedAgreement(t.agreement, { ...NOTHING_ELSE, customers: 20, seed: 41 });
  await bind(t, customers[0] as number);
  const afterBind = await used(t);
  h.fake.resetCalls();
  const first = await reconcile(t);
  assert.equal(first.budgetExhausted, true);
  assert.equal(first.dailyBudgetCut, true, 'cut by the agreement budget, not by maxListCallsPerRun');
  const spent = await used(t);
  assert.ok(spent >= RECONCILE_SHARE && spent < BUDGET, `reconciliation stopped at its share: ${spent} of ${BUDGET} used`);
  assert.equal(h.fake.calls(t.grantToken).total, spent - afterBind, 'every call the fake saw was counted once');
  const [tenantRow] = await h.database.db.select().from(reconcileState).where(and(eq(reconcileState.tenantId, t.id), eq(reconcileState.scope, '*')));
  assert.ok(tenantRow?.resume, 'the resume point is stored');
  const status = (await runCommand(cliContext(), 'status', { tenant: 'budget' })).stdout;
  assert.match(status, new RegExp(`budget\\s+${await agreementOf(t)}\\s+${spent}/${BUDGET}`), status);
  assert.match(status, /next run resumes there/);
  // The whole run's expected finish: today's share is spent, so not before the next UTC day; a first full
  // run has no earlier sizes for the scopes it has not listed yet, and says so (docs/cli.md, "Expected finish").
  const paused = /budget: paused until (\d{4}-\d\d-\d\d)T00:00:00\.000Z \(00:00 UTC\) by the daily call budget; at least (\d+) e-conomic calls left \(0 left today in reconciliation's share\); expected finish not before (\d{4}-\d\d-\d\d) \(1 more UTC day at the daily share, which resets at 00:00 UTC\); not counted yet: [^\n]*booked-invoice \(no earlier full run listed them\)/.exec(status);
  assert.ok(paused, status);
  assert.equal(paused[3], paused[1], 'the expected finish is the day the window ends on, at the earliest');
  assert.ok(Number(paused[2]) > 0, status);
  shared = { t, customers, firstListings: h.fake.callLog.filter((c) => c.agreement === t.grantToken && isListing(c)).length };
});

test('webhook syncs of that tenant still sync while reconciliation waits on the budget', async () => {
  const { t, customers } = shared;
  const before = await used(t);
  // A reconciliation now lists nothing: the rest of the day is the webhooks'.
  h.fake.resetCalls();
  const waiting = await reconcile(t);
  assert.equal(waiting.budgetExhausted, true);
  assert.equal(waiting.resumed, true);
  assert.equal(h.fake.callLog.filter((c) => c.agreement === t.grantToken && isListing(c)).length, 0, 'no listing call while the budget is down to the reserve');

  const number = customers[customers.length - 1] as number;
  t.agreement.upsertCustomer({ customerNumber: number, name: 'Webhook Wins ApS' });
  assert.equal((await (await h.signal(t, 'customer', number)).result()).lastOutcome, 'synced');
  const [row] = await h.database.db.select().from(economicCustomers).where(and(eq(economicCustomers.tenantId, t.id), eq(economicCustomers.customerNumber, number)));
  assert.equal(row?.name, 'Webhook Wins ApS');
  assert.ok((await used(t)) > before, 'the webhook sync used the reserve');
  assert.ok((await used(t)) <= BUDGET);
});

test('a later run (next window) resumes the budget-cut reconciliation where it stopped', async () => {
  const { t, customers } = shared;
  let last: ReconcileSummary | undefined;
  for (let i = 0; i < 5 && (last === undefined || last.budgetExhausted); i++) {
    await windowEnds(t);
    h.fake.resetCalls();
    last = await reconcile(t);
    assert.equal(last.resumed, true, 'each run resumes the cut one');
    const listings = h.fake.callLog.filter((c) => c.agreement === t.grantToken && isListing(c));
    assert.ok(!listings.some((c) => c.endpoint === '/customers' && new URLSearchParams(c.query).get('skippages') === '0'), 'resumed, not restarted');
    assert.ok((await used(t)) <= BUDGET);
  }
  assert.equal(last?.budgetExhausted, false, 'the run finished within a later window');
  const rows = await h.database.db.select().from(economicCustomers).where(eq(economicCustomers.tenantId, t.id));
  assert.equal(rows.length, customers.length, 'every customer reconciled');
  const [tenantRow] = await h.database.db.select().from(reconcileState).where(and(eq(reconcileState.tenantId, t.id), eq(reconcileState.scope, '*')));
  assert.equal(tenantRow?.resume, null, 'nothing left to resume');
  assert.ok(tenantRow?.lastFullRunAt instanceof Date);
  assert.doesNotMatch((await runCommand(cliContext(), 'status', { tenant: 'budget' })).stdout, /by the daily call budget/, 'no longer paused');
  // The completed full run's listing sizes are kept per scope for the next full run's estimate, through
  // incremental runs in between (docs/cli.md, "Expected finish").
  const fullTotal = async () => {
    const [row] = await h.database.db.select().from(reconcileState).where(and(eq(reconcileState.tenantId, t.id), eq(reconcileState.scope, 'customer')));
    return (row?.lastSummary as { fullTotal?: number } | null)?.fullTotal;
  };
  assert.equal(await fullTotal(), customers.length);
  await windowEnds(t);
  assert.equal((await reconcile(t, 'incremental')).full, false);
  assert.equal(await fullTotal(), customers.length, 'kept through an incremental run');
});

test('a webhook sync past the whole budget fails typed and retryable, calling nothing', async () => {
  const t = await h.createTenant('spent');
  const { customers } = seedAgreement(t.agreement, { ...NOTHING_ELSE, customers: 2, seed: 42 });
  await bind(t, customers[0] as number);
  // The day's budget used up by earlier calls.
  await h.database.db.execute(sql`update economic_call_budget set calls = ${BUDGET} where agreement_number = ${await agreementOf(t)}`);
  h.fake.resetCalls();
  const handle = await h.signal(t, 'customer', customers[1] as number);
  const type = await waitFor('the sync attempt to fail', () => pendingFailureType(handle));
  assert.equal(type, FAILURE_TYPES.budgetExhausted);
  assert.equal(h.fake.calls(t.grantToken).total, 0, 'e-conomic was not called');
  assert.equal(await used(t), BUDGET, 'a refused call takes nothing');
  const description = await handle.describe();
  assert.equal(description.status.name, 'RUNNING', 'retried when the window ends, not failed');
  await handle.terminate('test over');
});

test('a 429 seen by one worker pauses the agreement for a second worker', async () => {
  const t = await h.createTenant('throttled');
  const { customers } = seedAgreement(t.agreement, { ...NOTHING_ELSE, customers: 3, seed: 43 });
  const [first, throttled, other] = customers as [number, number, number];
  await bind(t, first);

  // A second worker: its own task queue, activities, database pool and call counter; the same Postgres.
  const secondDb: DatabaseHandle = await openDatabase({ databaseUrl: h.database.url, dataDir: '/nonexistent', maxConnections: 4 });
  const secondCounter = new CallCounter();
  const secondQueue = uniqueTaskQueue('second');
  const second = await startTestWorker(h.temporal, { ...h.activityDeps, db: secondDb.db, callCounter: secondCounter, entityStore: undefined }, secondQueue);
  try {
    h.fake.resetCalls();
    h.fake.faults.inject({ agreement: t.grantToken, path: `/customers/${throttled}`, times: 1, kind: '429', retryAfterSeconds: 10 });
    const throttledSync = await h.signal(t, 'customer', throttled);
    await waitFor('the pause to be stored', async () => (await h.database.db.select().from(economicAgreementPauses).where(eq(economicAgreementPauses.agreementNumber, await agreementOf(t))))[0]);
    const status = (await runCommand(cliContext(), 'status', { tenant: 'throttled' })).stdout;
    assert.match(status, /throttled\s+\d+\s+\d+\/40\s+\S+\s+\d{4}-\d\d-\d\dT/, `status shows the pause: ${status}`);

    // The second worker syncs another entity of the same agreement: it must not call e-conomic.
    const change = entityChange({ tenantId: t.id, tenant: t.name, kind: 'customer', number: other }, { eventId: randomUUID(), source: 'retry-failed', receivedAt: new Date() });
    await signalEntityChange(h.temporal.env.client, secondQueue, change);
    const otherSync = h.temporal.env.client.workflow.getHandle<typeof entitySyncWorkflow>(change.workflowId);
    assert.equal(await waitFor('the second worker to be refused', () => pendingFailureType(otherSync)), FAILURE_TYPES.rateLimited);
    assert.equal(secondCounter.total(t.name), 0, 'the second worker made no e-conomic call');
    assert.deepEqual(
      h.fake.callLog.filter((c) => c.agreement === t.grantToken).map((c) => `${c.path} ${c.status}`),
      [`/customers/${throttled} 429`],
      'nothing called e-conomic for the agreement during the pause',
    );

    // After the pause both sync, and the second worker's entity was called exactly once.
    assert.equal((await throttledSync.result()).lastOutcome, 'synced');
    assert.equal((await otherSync.result()).lastOutcome, 'synced');
    assert.deepEqual(
      h.fake.callLog.filter((c) => c.path === `/customers/${other}`).map((c) => c.status),
      [200],
    );
    assert.equal(secondCounter.total(t.name), 1);
  } finally {
    await second.stop();
    await secondDb.close();
  }
});

test('callers on two database pools at once never take more than the budget, and a refused call takes nothing', async () => {
  const otherDb: DatabaseHandle = await openDatabase({ databaseUrl: h.database.url, dataDir: '/nonexistent', maxConnections: 8 });
  try {
    const agreement = 990001;
    const budgets = [createCallBudget(h.database.db, { dailyCalls: 20 }), createCallBudget(otherDb.db, { dailyCalls: 20 })];
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (budgets[i % 2] as (typeof budgets)[number])
          .gate(agreement, i % 3 === 0 ? 'reconcile' : 'sync')
          .beforeCall('/customers/{n}')
          .then(
            () => 'called',
            (err: unknown) => (isEconomicError(err) ? err.kind : 'other'),
          ),
      ),
    );
    assert.equal(outcomes.filter((o) => o === 'called').length, 20, 'exactly the budget');
    assert.equal(outcomes.filter((o) => o === 'budget_exhausted').length, 40);
    const [usage] = (await budgets[0]!.usage([agreement])).values();
    assert.equal(usage?.used, 20);
    assert.equal(usage?.limit, 20);
    assert.equal(usage?.pausedUntil, null);
    // The reconcile share (80 %) is spent too, so a reconciliation's call is refused with nothing taken.
    await assert.rejects(budgets[1]!.gate(agreement, 'reconcile').beforeCall('/customers'), (err: unknown) => isEconomicError(err) && err.kind === 'budget_exhausted' && /webhook syncs/.test(err.message));
    assert.equal((await budgets[1]!.usage([agreement])).get(agreement)?.used, 20);
  } finally {
    await otherDb.close();
  }
});
