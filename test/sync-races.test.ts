// Entity syncs racing each other and e-conomic, on the real dev server, real Postgres and the fake
// e-conomic over HTTP. The race is made to happen at a chosen point, never by timing: a test-only wrapper
// over the real entity store holds a sync between its fetch and its commit while the test changes
// e-conomic and syncs other entities. Each test is one race: it converges (or fails visibly, never hangs),
// and nothing the sync was told is lost.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import { runCommand } from '../src/cli/commands';
import type { CommandContext } from '../src/cli/context';
import { loadConfig } from '../src/config';
import { economicCustomers, economicOrders, economicProjects, syncState } from '../src/db/schema';
import { entityWorkflowId, type EntityKind } from '../src/shared/entities';
import { EconomicSource, EconomicTrigger } from '../src/shared/search-attributes';
import { SYNC_STATUS_QUERY, type EntitySyncStatus } from '../src/shared/sync-signals';
import { createEntityStore } from '../src/store/entity-store';
import { customerRecord } from '../src/sync/entity-record';
import type { entitySyncWorkflow } from '../workflows/entity-sync';
import { checkpoint, hookedStore, type StoreHooks } from './helpers/hooked-store';
import { documentLines } from './helpers/rows';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';
import { waitFor } from './helpers/wait';

let h: SyncHarness;
let acme: TestTenant;
let hooks: StoreHooks;

before(async () => {
  h = await startSyncHarness();
  const hooked = hookedStore(createEntityStore(h.database.db));
  hooks = hooked.hooks;
  h.activityDeps.entityStore = hooked.store;
  await h.startWorker();
  acme = await h.createTenant('races');
});

after(async () => {
  await h?.close();
});

const lines = [
  { description: 'Montage', productNumber: 'TIME', quantity: 4, unitNetPrice: 650 },
  { description: 'Materialer', productNumber: 'MAT', quantity: 1, unitNetPrice: 1200 },
];

const isLast = (kind: EntityKind, number: number) => (records: Array<{ kind: EntityKind; number: number }>) =>
  records.at(-1)?.kind === kind && records.at(-1)?.number === number;

/**
 * Every syncEntity attempt recorded in the workflow's latest run, numbered per sync (1 each: nothing was
 * retried by Temporal). A sync's first attempt is a local activity (a marker); the ordinary activity that
 * takes over after it failed numbers its attempts from 2 (workflows/activity-options.ts).
 */
async function activityAttempts(workflowId: string): Promise<number[]> {
  const history = await h.temporal.env.client.workflow.getHandle(workflowId).fetchHistory();
  const syncScheduled = new Set<string>();
  let afterLocal = false;
  return (history.events ?? []).flatMap((e) => {
    if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') {
      afterLocal = true;
      return [1];
    }
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncEntity') syncScheduled.add(String(e.eventId));
    const started = e.activityTaskStartedEventAttributes;
    if (!started || !syncScheduled.has(String(started.scheduledEventId))) return [];
    return [(started.attempt ?? 0) + (afterLocal ? 1 : 0)];
  });
}

function fetchesOf(path: string): number {
  return h.fake.callLog.filter((c) => c.agreement === acme.grantToken && c.path === path).length;
}

async function orderRow(number: number) {
  const [row] = await h.database.db.select().from(economicOrders).where(and(eq(economicOrders.tenantId, acme.id), eq(economicOrders.orderNumber, number)));
  return row;
}

async function liveLines(number: number) {
  return (await documentLines(h.database.db, acme.id, 'order', number)).filter((l) => l.deletedAt === null);
}

/** A synced order renumbered in e-conomic whose lines cannot be committed (two numbered 1) until `fix()`. */
async function renumberedWithBrokenLines(name: string, offset: number) {
  const customer = acme.agreement.upsertCustomer({ name, currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines });
  await (await h.signal(acme, 'order', order)).result();
  const renumbered = order + offset;
  acme.agreement.renumberOrder(order, renumbered);
  const moved = acme.agreement.orders.drafts.get(renumbered)?.lines[1];
  assert.ok(moved);
  moved.lineNumber = 1;
  return { order, renumbered, fix: () => void (moved.lineNumber = 2) };
}

async function stateOf(kind: EntityKind, number: number) {
  const [state] = await h.database.db.select().from(syncState).where(and(eq(syncState.tenantId, acme.id), eq(syncState.kind, kind), eq(syncState.number, number)));
  return state;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => assert.fail('expected the workflow to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure, String(err));
  return err.cause;
}

test('the FK race converges without hanging: a project renumbered between the order\'s fetch and its commit', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Kapløb ApS', currency: 'DKK' });
  const project = acme.agreement.upsertProject({ name: 'Tilbygning', customerNumber: customer });
  const order = acme.agreement.createOrder({ customerNumber: customer, projectNumber: project, lines });
  assert.equal((await (await h.signal(acme, 'project', project)).result()).lastOutcome, 'synced');

  // The order is fetched (naming the project's old number, which is stored and fresh) and held before its commit.
  const held = checkpoint();
  let commits = 0;
  hooks.beforeCommit = async (_tenantId, records) => {
    if (isLast('order', order)(records) && ++commits === 1) await held.arrive();
  };
  try {
    const orderSync = await h.signal(acme, 'order', order, { source: 'eConomicOrder' });
    await held.reached;

    const renumbered = project + 700;
    acme.agreement.renumberProject(project, renumbered);
    assert.equal((await (await h.signal(acme, 'project', renumbered, { oldNumber: project, source: 'eConomicProject' })).result()).lastOutcome, 'synced');
    held.release();

    // The commit meets a foreign-key violation (project gone), fetches again and commits the new reference.
    assert.equal((await orderSync.result()).lastOutcome, 'synced');
    assert.equal((await orderRow(order))?.projectNumber, renumbered);
    assert.equal(commits, 2, 'one failed commit, one after fetching again');
    assert.equal(fetchesOf(`/orders/drafts/${order}`), 2);
    assert.deepEqual(await activityAttempts(entityWorkflowId(acme.name, 'order', order)), [1], 'healed inside the activity, not by Temporal retries');
    assert.equal((await stateOf('order', order))?.lastOutcome, 'synced');
  } finally {
    held.release();
    delete hooks.beforeCommit;
  }
});

test('a constraint violated on every fetch fails visibly as IntegrityViolation after 3 rounds, then the next event syncs', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Dobbeltlinje A/S', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines });
  // e-conomic sends two lines numbered 1: the lines' primary key refuses them, however often it is fetched.
  const stored = acme.agreement.orders.drafts.get(order);
  assert.ok(stored?.lines[1]);
  stored.lines[1].lineNumber = 1;

  const failure = await failureOf((await h.signal(acme, 'order', order)).result());
  assert.equal(failure.type, 'IntegrityViolation');
  assert.match(failure.message, /unique constraint/);
  assert.doesNotMatch(failure.message, /Materialer|Montage/, 'no entity data in the failure');
  assert.equal(fetchesOf(`/orders/drafts/${order}`), 3, 'three rounds of fetching, then it stops');
  assert.equal((await activityAttempts(entityWorkflowId(acme.name, 'order', order))).filter((a) => a > 1).length, 0, 'not retried by Temporal');
  const state = await stateOf('order', order);
  assert.equal(state?.lastOutcome, 'failed');
  assert.equal(state?.lastErrorType, 'IntegrityViolation');
  assert.equal(await orderRow(order), undefined, 'nothing of the order was committed');

  // e-conomic's data is fixed: the next event for the entity is processed.
  stored.lines[1].lineNumber = 2;
  assert.equal((await (await h.signal(acme, 'order', order)).result()).lastOutcome, 'synced');
  assert.equal((await liveLines(order)).length, 2);
});

test('no resurrection: a customer fetched before its deletion was seen is not brought back by a late commit', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Lukket Kunde ApS', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines });
  // The customer is stored, synced long before the order last changed: the order's sync fetches it again.
  const fakeCustomer = acme.agreement.customers.get(customer);
  assert.ok(fakeCustomer);
  await createEntityStore(h.database.db).commit(acme.id, [customerRecord({ ...fakeCustomer }, '2025-12-01T00:00:00.000Z')]);

  const held = checkpoint();
  hooks.beforeCommit = async (_tenantId, records) => {
    if (isLast('order', order)(records)) await held.arrive();
  };
  try {
    const orderSync = await h.signal(acme, 'order', order);
    await held.reached;
    // The order's sync holds the customer as fetched (alive, the same lastUpdated as stored); meanwhile
    // e-conomic deletes it and the customer's own sync marks it deleted.
    acme.agreement.deleteCustomer(customer);
    assert.equal((await (await h.signal(acme, 'customer', customer)).result()).lastOutcome, 'deleted');
    const [deleted] = await h.database.db.select().from(economicCustomers).where(and(eq(economicCustomers.tenantId, acme.id), eq(economicCustomers.customerNumber, customer)));
    assert.ok(deleted?.deletedAt instanceof Date);
    held.release();

    assert.equal((await orderSync.result()).lastOutcome, 'synced');
    const [row] = await h.database.db.select().from(economicCustomers).where(and(eq(economicCustomers.tenantId, acme.id), eq(economicCustomers.customerNumber, customer)));
    assert.equal(row?.deletedAt?.getTime(), deleted.deletedAt.getTime(), 'still deleted, as of its deletion');
    assert.equal((await orderRow(order))?.customerNumber, customer, 'the order commits against the kept row');
  } finally {
    held.release();
    delete hooks.beforeCommit;
  }
});

test('a failed sync keeps its pending events: the renumbering it carried is applied by the events that arrived meanwhile', async () => {
  const { order, renumbered, fix } = await renumberedWithBrokenLines('Venteliste ApS', 8000);

  const workflowId = entityWorkflowId(acme.name, 'order', renumbered);
  const held = checkpoint();
  let commits = 0;
  hooks.beforeCommit = async (_tenantId, records) => {
    if (isLast('order', renumbered)(records) && ++commits === 1) await held.arrive();
  };
  // When the failure is recorded, e-conomic has been fixed: the next sync can succeed.
  hooks.beforeRecordOutcome = (input) => {
    if (input.number === renumbered && input.outcome === 'failed') fix();
  };
  try {
    const handle = await h.signal(acme, 'order', renumbered, { oldNumber: order, source: 'eConomicOrder' });
    await held.reached;
    // An event without oldNumber arrives while the renumbering's sync is under way (and about to fail).
    await h.signal(acme, 'order', renumbered, { source: 'eConomicOrder' });
    await waitFor('the second event pending in the workflow', async () => (await handle.query<EntitySyncStatus>(SYNC_STATUS_QUERY)).pending === 1);
    held.release();

    const result = await handle.result();
    assert.equal(result.lastOutcome, 'synced', 'the pending event was synced rather than dropped');
    assert.equal(result.syncs, 2, 'the failed sync, then the pending event');
    assert.equal(await orderRow(order), undefined, 'the row moved: the renumbering was applied, not lost');
    const row = await orderRow(renumbered);
    assert.equal(row?.deletedAt, null);
    assert.equal((await liveLines(renumbered)).length, 2);
    const state = await stateOf('order', renumbered);
    assert.equal(state?.lastOutcome, 'synced');
    assert.equal(state?.pendingOldNumber, null);
    assert.equal(state?.workflowId, workflowId);
  } finally {
    held.release();
    delete hooks.beforeCommit;
    delete hooks.beforeRecordOutcome;
  }
});

test('a failed sync with nothing pending keeps its renumbering: retry-failed applies it, the old row is not deleted', async () => {
  const { order, renumbered, fix } = await renumberedWithBrokenLines('Genforsøg ApS', 9000);

  const failure = await failureOf((await h.signal(acme, 'order', renumbered, { oldNumber: order })).result());
  assert.equal(failure.type, 'IntegrityViolation');
  assert.equal((await stateOf('order', renumbered))?.pendingOldNumber, order, 'the renumbering is kept with the failure');
  assert.ok((await orderRow(order))?.deletedAt === null, 'the old row is untouched so far');

  fix();
  const ctx: CommandContext = { config: { ...loadConfig({}), taskQueue: h.taskQueue }, db: h.database.db, temporal: () => Promise.resolve(h.temporal.env.client) };
  assert.match((await runCommand(ctx, 'retry-failed', { tenant: acme.name })).stdout, /^Started 1 sync/);
  const result = await h.temporal.env.client.workflow.getHandle<typeof entitySyncWorkflow>(entityWorkflowId(acme.name, 'order', renumbered)).result();
  assert.equal(result.lastOutcome, 'synced');
  assert.equal(await orderRow(order), undefined, 'moved, not marked deleted');
  assert.equal((await liveLines(renumbered)).length, 2);
});

test('a renumbering whose old number was already marked deleted moves that row and brings it back under the new number', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Arkiveret Flytning ApS', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines });
  acme.agreement.sendOrder(order);
  acme.agreement.archiveOrder(order);
  await (await h.signal(acme, 'order', order)).result();
  const renumbered = order + 7000;
  acme.agreement.renumberOrder(order, renumbered);

  // The renumbering's sync fetches the archived order (no lastUpdated) and is held before its commit, while
  // the old number's own sync (a lost renumbering webhook, or reconciliation) finds it gone and marks it deleted.
  const held = checkpoint();
  hooks.beforeCommit = async (_tenantId, records) => {
    if (isLast('order', renumbered)(records)) await held.arrive();
  };
  try {
    const renumbering = await h.signal(acme, 'order', renumbered, { oldNumber: order });
    await held.reached;
    assert.equal((await (await h.signal(acme, 'order', order)).result()).lastOutcome, 'deleted');
    held.release();
    assert.equal((await renumbering.result()).lastOutcome, 'synced');
  } finally {
    held.release();
    delete hooks.beforeCommit;
  }
  assert.equal(await orderRow(order), undefined, 'the row moved');
  const row = await orderRow(renumbered);
  assert.equal(row?.deletedAt, null, 'alive under its new number');
  assert.equal(row?.status, 'archived');
  assert.equal((await liveLines(renumbered)).length, 2);
});

test('renumbering onto an existing row leaves no stale lines: the old row and its lines are marked deleted', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Optaget Nummer A/S', currency: 'DKK' });
  // The target number has a row: e-conomic deleted that order, and its deletion was never synced.
  const target = acme.agreement.createOrder({ customerNumber: customer, lines: [{ description: 'Gammel', quantity: 1, unitNetPrice: 10 }] });
  await (await h.signal(acme, 'order', target)).result();
  acme.agreement.deleteOrder(target);
  const order = acme.agreement.createOrder({ customerNumber: customer, lines: [...lines, { description: 'Tredje', quantity: 3, unitNetPrice: 30 }] });
  await (await h.signal(acme, 'order', order)).result();
  assert.equal((await liveLines(order)).length, 3);

  acme.agreement.renumberOrder(order, target);
  assert.equal((await (await h.signal(acme, 'order', target, { oldNumber: order })).result()).lastOutcome, 'synced');

  const old = await orderRow(order);
  assert.ok(old?.deletedAt instanceof Date, 'the old number is gone');
  assert.deepEqual(await liveLines(order), [], 'none of the old number\'s lines is left live');
  const now = await liveLines(target);
  assert.deepEqual(now.map((l) => l.description), ['Montage', 'Materialer', 'Tredje']);
  assert.equal((await orderRow(target))?.deletedAt, null);
});

test('a renumbering swap converges: both orders committed at once, each row as e-conomic has it, no deadlock', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Bytte ApS', currency: 'DKK' });
  const a = acme.agreement.createOrder({ customerNumber: customer, lines: [{ description: 'A1', quantity: 1, unitNetPrice: 1 }] });
  const b = acme.agreement.createOrder({ customerNumber: customer, lines: [{ description: 'B1', quantity: 1, unitNetPrice: 2 }, { description: 'B2', quantity: 1, unitNetPrice: 3 }] });
  await Promise.all([(await h.signal(acme, 'order', a)).result(), (await h.signal(acme, 'order', b)).result()]);

  // A and B swap numbers in e-conomic (through a free number, as e-conomic needs).
  const spare = b + 50_000;
  acme.agreement.renumberOrder(a, spare);
  acme.agreement.renumberOrder(b, a);
  acme.agreement.renumberOrder(spare, b);

  // The events name each other's number as the old one; both commits are held and then start together.
  const heldA = checkpoint();
  const heldB = checkpoint();
  hooks.beforeCommit = async (_tenantId, records) => {
    if (isLast('order', a)(records)) await heldA.arrive();
    if (isLast('order', b)(records)) await heldB.arrive();
  };
  try {
    const [syncA, syncB, syncSpare] = await Promise.all([
      h.signal(acme, 'order', a, { oldNumber: b }),
      h.signal(acme, 'order', b, { oldNumber: a }),
      h.signal(acme, 'order', spare, { oldNumber: a }),
    ]);
    await Promise.all([heldA.reached, heldB.reached]);
    heldA.release();
    heldB.release();
    assert.equal((await syncA.result()).lastOutcome, 'synced');
    assert.equal((await syncB.result()).lastOutcome, 'synced');
    assert.equal((await syncSpare.result()).lastOutcome, 'absent');
  } finally {
    heldA.release();
    heldB.release();
    delete hooks.beforeCommit;
  }

  assert.deepEqual((await liveLines(a)).map((l) => l.description), ['B1', 'B2']);
  assert.deepEqual((await liveLines(b)).map((l) => l.description), ['A1']);
  assert.equal((await orderRow(a))?.deletedAt, null);
  assert.equal((await orderRow(b))?.deletedAt, null);
  assert.equal(await orderRow(spare), undefined);
  for (const number of [a, b]) {
    assert.deepEqual(await activityAttempts(entityWorkflowId(acme.name, 'order', number)), [1], `order ${number}: no deadlock retried`);
  }
});

test('EconomicSource is the e-conomic source of the entity\'s kind, whatever triggered the sync; EconomicTrigger says what did', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Attributter ApS', currency: 'DKK' });
  const project = acme.agreement.upsertProject({ name: 'Søgbar', customerNumber: customer });
  const entities: Array<[EntityKind, number, string]> = [
    ['customer', customer, 'eConomicCustomer'],
    ['project', project, 'eConomicProject'],
    ['order', acme.agreement.createOrder({ customerNumber: customer, lines }), 'eConomicOrder'],
    ['quote', acme.agreement.createQuote({ customerNumber: customer, lines }), 'eConomicOffer'],
    ['draft-invoice', acme.agreement.createDraftInvoice({ customerNumber: customer, lines }), 'eConomicInvoiceDraft'],
    ['booked-invoice', acme.agreement.createBookedInvoice({ customerNumber: customer, lines }), 'eConomicInvoicePosted'],
  ];
  for (const [index, [kind, number, source]] of entities.entries()) {
    const trigger = index % 2 === 0 ? 'reconcile' : 'retry-failed';
    const handle = await h.signal(acme, kind, number, { source: trigger });
    await handle.result();
    const attributes = (await handle.describe()).typedSearchAttributes;
    assert.equal(attributes.get(EconomicSource), source, `${kind}: EconomicSource`);
    assert.equal(attributes.get(EconomicTrigger), trigger, `${kind}: EconomicTrigger`);
  }
  // Operators find them by source in the Temporal UI's list (visibility is updated asynchronously).
  const customerWorkflow = entityWorkflowId(acme.name, 'customer', customer);
  await waitFor('the customer listed under eConomicCustomer', async () => {
    for await (const execution of h.temporal.env.client.workflow.list({ query: `EconomicSource = 'eConomicCustomer' AND EconomicTrigger = 'reconcile'` })) {
      if (execution.workflowId === customerWorkflow) return true;
    }
    return false;
  });
  const [p] = await h.database.db.select().from(economicProjects).where(and(eq(economicProjects.tenantId, acme.id), eq(economicProjects.projectNumber, project)));
  assert.equal(p?.customerNumber, customer);
});
