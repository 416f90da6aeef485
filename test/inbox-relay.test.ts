// The inbox relay (src/ingest/inbox-relay.ts) on a real Temporal dev server, with real Postgres and the
// embedded PGlite: it holds no transaction while Temporal takes (or does not take) its signals, and a
// relay that dies mid-batch holds its rows for one lease only; one workflow's events in a batch are
// coalesced; tenants share each batch. A signal is held at a chosen point by a client interceptor of the test's own Temporal
// client, never by timing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { eq, inArray, sql } from 'drizzle-orm';
import pino from 'pino';
import { openDatabase, queryRows, type Database } from '../src/db/client';
import { migrateDatabase } from '../src/db/migrate';
import { syncEvents, tenants } from '../src/db/schema';
import { createTemporalGate } from '../src/ingest/ingestor';
import { createInboxRelay } from '../src/ingest/inbox-relay';
import { entityWorkflowId } from '../src/shared/entities';
import { withTimeout } from '../src/util/with-timeout';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { changeSignals } from './helpers/history';
import { checkpoint, type Checkpoint } from './helpers/hooked-store';
import { startTestTemporal, uniqueTaskQueue, type TestTemporal } from './helpers/temporal';
import { waitFor } from './helpers/wait';

let temporal: TestTemporal;
let database: TestDatabase;
let connection: Connection;
const log = pino({ level: 'silent' });

before(async () => {
  [temporal, database] = await Promise.all([startTestTemporal(), createTestDatabase()]);
  connection = await Connection.connect({ address: temporal.address });
});

after(async () => {
  await connection?.close();
  await temporal?.shutdown();
  await database?.drop();
});

/** A client whose signal-with-start waits at `held` (the first call arrives there; later ones wait too). */
function heldClient(held: Checkpoint, onRelease: 'signal' | 'fail' = 'signal'): Client {
  return new Client({
    connection,
    namespace: temporal.namespace,
    interceptors: {
      workflow: [
        {
          async signalWithStart(input, next) {
            await held.arrive();
            if (onRelease === 'fail') throw new Error('this relay died while signalling');
            return next(input);
          },
        },
      ],
    },
  });
}

/** Queues events for `numbers` in the inbox, as the ingestor does when Temporal is down. */
async function queueEvents(db: Database, tenant: string, numbers: number[]): Promise<string[]> {
  const [row] = await db.insert(tenants).values({ name: tenant }).onConflictDoNothing().returning();
  const tenantId = row?.id ?? (await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, tenant)))[0]!.id;
  const events = numbers.map((number) => ({
    eventId: randomUUID(),
    tenantId,
    source: 'eConomicProject',
    kind: 'project',
    number,
    receivedAt: new Date(),
    workflowId: entityWorkflowId(tenant, 'project', number),
    outcome: 'queued' as const,
  }));
  await db.insert(syncEvents).values(events);
  return events.map((e) => e.eventId);
}

const relayOn = (db: Database, client: Client, options: { leaseMs?: number; batchSize?: number } = {}) =>
  createInboxRelay({ db, client, taskQueue: uniqueTaskQueue('relay'), log, gate: createTemporalGate(), signalTimeoutMs: 1000, ...options });

test('the relay holds no transaction while it signals: its rows can be locked and read while a signal is blocked (Postgres)', async () => {
  const eventIds = await queueEvents(database.db, 'relay-pg', [1, 2, 3]);
  const held = checkpoint();
  const relay = relayOn(database.db, heldClient(held));
  const pass = relay.relayOnce();
  try {
    await held.reached;
    // Another session locks the very rows being relayed without waiting: no transaction holds them.
    const locked = await queryRows<{ seq: number }>(
      database.db,
      sql`select seq from sync_events where event_id in (${sql.join(eventIds.map((id) => sql`${id}::uuid`), sql`, `)}) for update nowait`,
    );
    assert.equal(locked.length, 3);
    const idle = await queryRows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`,
    );
    assert.equal(idle[0]?.n, 0, 'no session idles in a transaction while Temporal is called');
    const leased = await database.db.select().from(syncEvents).where(inArray(syncEvents.eventId, eventIds));
    assert.ok(leased.every((r) => r.outcome === 'queued' && r.leaseOwner !== null && r.leaseUntil instanceof Date), 'claimed by a lease instead');
  } finally {
    // Released whatever happened above, so a failing assertion never leaves the pass hanging.
    held.release();
  }
  assert.equal((await pass).relayed, 3);
  const relayed = await database.db.select().from(syncEvents).where(inArray(syncEvents.eventId, eventIds));
  assert.ok(relayed.every((r) => r.outcome === 'relayed' && r.leaseOwner === null && r.leaseUntil === null));
});

test('on the embedded PGlite, a query completes while the relay waits for Temporal', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'relay-pglite-'));
  const embedded = await openDatabase({ dataDir });
  try {
    await migrateDatabase(embedded);
    await queueEvents(embedded.db, 'relay-pglite', [10, 11]);
    const held = checkpoint();
    const relay = relayOn(embedded.db, heldClient(held));
    const pass = relay.relayOnce();
    try {
      await held.reached;
      // PGlite has one connection: a transaction held across the signal would stall this query until release.
      const [count] = await withTimeout(
        queryRows<{ n: number }>(embedded.db, sql`select count(*)::int as n from sync_events where outcome = 'queued'`),
        10_000,
        'a query while the relay signals',
      );
      assert.equal(count?.n, 2);
    } finally {
      held.release();
    }
    assert.equal((await pass).relayed, 2);
  } finally {
    await embedded.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a crashed relay's lease expires: another relay then relays its rows, each exactly once", async () => {
  const eventIds = await queueEvents(database.db, 'relay-crash', [20, 21, 22]);
  // Relay A claims the batch and never gets a signal through (it "dies" while signalling).
  const held = checkpoint();
  const crashed = relayOn(database.db, heldClient(held, 'fail'), { leaseMs: 3000 });
  const crashedPass = crashed.relayOnce();
  try {
    await held.reached;
    const healthy = relayOn(database.db, temporal.env.client);
    assert.equal((await healthy.relayOnce()).relayed, 0, 'the rows are leased to the other relay');
    // Once the lease expires the healthy relay takes them.
    await waitFor('the leased rows relayed by the other relay', async () => (await healthy.relayOnce()).relayed === 3, 30_000, 200);
    for (const [index, number] of [20, 21, 22].entries()) {
      const signalled = (await changeSignals(temporal.env.client, entityWorkflowId('relay-crash', 'project', number))).map((s) => s.eventId);
      assert.deepEqual(signalled, [eventIds[index]], `project ${number}: signalled once`);
    }
  } finally {
    held.release();
  }
  const late = await crashedPass;
  assert.equal(late.relayed, 0);
  const rows = await database.db.select().from(syncEvents).where(inArray(syncEvents.eventId, eventIds));
  assert.ok(rows.every((r) => r.outcome === 'relayed' && r.leaseOwner === null), 'the dead relay released nothing it did not hold');
});

test("one workflow's events in a batch are coalesced: fewer signals, its renumbering and last event signalled, every row relayed", async () => {
  const tenant = 'relay-coalesce';
  await queueEvents(database.db, tenant, [1]); // the tenant
  const [{ id: tenantId }] = (await database.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, tenant))) as [{ id: number }];
  const workflowId = entityWorkflowId(tenant, 'project', 41);
  const events = Array.from({ length: 30 }, (_, i) => ({
    eventId: randomUUID(),
    tenantId,
    source: 'eConomicProject',
    kind: 'project',
    number: 41,
    // The 11th event renumbered the project from 40 to 41.
    oldNumber: i === 10 ? 40 : null,
    receivedAt: new Date(),
    workflowId,
    outcome: 'queued' as const,
  }));
  await database.db.insert(syncEvents).values(events);
  const relay = relayOn(database.db, temporal.env.client);
  for (let pass = await relay.relayOnce(); pass.relayed > 0 || pass.more; pass = await relay.relayOnce());
  const signalled = await changeSignals(temporal.env.client, workflowId);
  assert.deepEqual(
    signalled.map((s) => [s.eventId, s.oldNumber]),
    [
      [events[10]!.eventId, 40],
      [events[29]!.eventId, undefined],
    ],
    'the renumbering, then the last event',
  );
  const rows = await database.db.select().from(syncEvents).where(inArray(syncEvents.eventId, events.map((e) => e.eventId)));
  assert.ok(rows.every((r) => r.outcome === 'relayed' && r.relayedAt instanceof Date && r.leaseOwner === null), 'every row relayed, the coalesced ones too');
});

test("tenants share each batch: a tenant's backlog does not hold back another tenant's later events", async () => {
  // A database of its own: the share depends on which tenants have queued rows.
  const own = await createTestDatabase();
  try {
    // The busy tenant's 30 events (30 workflows: nothing coalesces) are all older than the quiet one's 2.
    const busy = await queueEvents(own.db, 'relay-busy', Array.from({ length: 30 }, (_, i) => 100 + i));
    const quiet = await queueEvents(own.db, 'relay-quiet', [7, 8]);
    const relay = relayOn(own.db, temporal.env.client, { batchSize: 10 });

    const first = await relay.relayOnce();
    const outcome = async (ids: string[]) => (await own.db.select({ eventId: syncEvents.eventId, outcome: syncEvents.outcome }).from(syncEvents).where(inArray(syncEvents.eventId, ids))).filter((r) => r.outcome === 'relayed').length;
    // The batch of 10 is shared: half each, so the quiet tenant's events went first time, behind no backlog;
    // oldest first within the busy tenant.
    assert.equal(await outcome(quiet), 2, "the quiet tenant's events were in the first batch");
    assert.equal(first.relayed, 7);
    assert.equal(await outcome(busy.slice(0, 5)), 5);
    assert.ok(first.more, 'a pass that relayed something is followed by another');

    for (let pass = await relay.relayOnce(); pass.relayed > 0 || pass.more; pass = await relay.relayOnce());
    assert.equal(await outcome(busy), 30, "the busy tenant's backlog drains too");
  } finally {
    await own.drop();
  }
});
