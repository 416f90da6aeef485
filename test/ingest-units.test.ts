// The small parts of ingestion on their own: the semaphore, the API key cache used when Postgres is
// unreachable (and what it tells the webhook's failed-authentication limit), and the overflow path
// (Temporal saturated → inbox → relayed), and the inbox taking over while Temporal is slow.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { Client, Connection } from '@temporalio/client';
import { createApiKeyAuthenticator, ensureTenant, revokeApiKey } from '../src/access/api-keys';
import { openDatabase } from '../src/db/client';
import { syncEvents } from '../src/db/schema';
import { createEventLog } from '../src/ingest/event-log';
import { createIngestor, createTemporalGate } from '../src/ingest/ingestor';
import { createSemaphore } from '../src/ingest/semaphore';
import { createApiKey } from './helpers/api-keys';
import { checkpoint, type Checkpoint } from './helpers/hooked-store';
import { registerSecret, testLogger } from './helpers/test-logs';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { assertDelivered } from './helpers/history';
import { startTestTemporal, uniqueTaskQueue, type TestTemporal } from './helpers/temporal';
import { startTestWebhook, waitFor } from './helpers/webhook';

registerSecret('grant-token', 'grant-saturated');

let temporal: TestTemporal;
let database: TestDatabase;

before(async () => {
  [temporal, database] = await Promise.all([startTestTemporal(), createTestDatabase()]);
});

after(async () => {
  await temporal?.shutdown();
  await database?.drop();
});

test('semaphore: bounded in flight, bounded queue, deadline, FIFO hand-over', async () => {
  const semaphore = createSemaphore(2, 1);
  const a = await semaphore.acquire(0);
  const b = await semaphore.acquire(0);
  assert.ok(a && b);
  assert.equal(await semaphore.acquire(0), undefined, 'no wait allowed');
  const waiting = semaphore.acquire(5000);
  assert.equal(await semaphore.acquire(5000), undefined, 'queue full');
  a();
  a(); // releasing twice is harmless
  const c = await waiting;
  assert.ok(c);
  assert.equal(semaphore.inFlight, 2);
  const timedOut = await semaphore.acquire(20);
  assert.equal(timedOut, undefined);
  assert.equal(semaphore.waiting, 0);
  b();
  c();
  assert.equal(semaphore.inFlight, 0);
});

test('authentication falls back to the last known answer when Postgres is unreachable; an unseen key is "unavailable"', async () => {
  const own = await createTestDatabase('es_auth');
  const good = (await createApiKey(own.db, { tenant: 'cache' })).key;
  const revoked = (await createApiKey(own.db, { tenant: 'cache' })).key;
  const authenticator = createApiKeyAuthenticator(own.db, { timeoutMs: 500 });
  assert.equal(authenticator.recentlyValid(good), false, 'not checked yet');
  assert.equal((await authenticator.authenticate(good)).ok, true);
  assert.equal(authenticator.recentlyValid(good), true);
  assert.equal(authenticator.recentlyValid(good.toLowerCase()), true, 'in any case, as authenticate takes it');
  assert.equal((await authenticator.authenticate(revoked)).ok, true);
  await revokeApiKey(own.db, revoked);
  assert.deepEqual(await authenticator.authenticate(revoked), { ok: false, reason: 'invalid' });
  assert.equal(authenticator.recentlyValid(revoked), false, 'a key found revoked is no longer recently valid');
  assert.equal(authenticator.recentlyValid('nonsense'), false);
  await own.drop(); // the database is gone
  const cached = await authenticator.authenticate(good);
  assert.ok(cached.ok && cached.key.tenant === 'cache');
  assert.deepEqual(await authenticator.authenticate(revoked), { ok: false, reason: 'invalid' }, 'a revoked key stays refused');
  assert.deepEqual(await authenticator.authenticate('C5E6A287-1B4B-4EAF-AD57-2CF78A52927C'), { ok: false, reason: 'unavailable' });
  assert.deepEqual(await authenticator.authenticate('nonsense'), { ok: false, reason: 'invalid' }, 'malformed keys never need the database');
});

test('Temporal saturated: requests beyond the signal queue go to the inbox and are relayed', async () => {
  const key = (await createApiKey(database.db, { tenant: 'saturated' })).key;
  const webhook = await startTestWebhook({
    db: database.db,
    client: temporal.env.client,
    taskQueue: uniqueTaskQueue('sat'),
    ingest: { maxInFlight: 1, maxWaiting: 0, waitMs: 0 },
  });
  try {
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        webhook.app.inject({
          method: 'POST',
          url: `/?APIKey=${key}&APISource=eConomicOrder`,
          headers: { 'content-type': 'application/json' },
          payload: { eConomicAPIKey: 'grant-saturated', number: 700 + (i % 4) },
        }),
      ),
    );
    assert.ok(answers.every((a) => a.statusCode === 202));
    const events = answers.map((a) => a.json<{ eventId: string; workflowId: string }>());
    await waitFor('the inbox to drain', async () => (await database.db.select().from(syncEvents).where(eq(syncEvents.outcome, 'queued'))).length === 0);
    await webhook.pipeline.eventLog.flush();
    const rows = await database.db.select().from(syncEvents);
    const outcomes = rows.filter((r) => events.some((e) => e.eventId === r.eventId)).map((r) => r.outcome);
    assert.equal(outcomes.length, 40);
    assert.ok(outcomes.includes('relayed'), 'some went through the inbox');
    assert.ok(outcomes.includes('signalled'), 'some went straight to Temporal');
    const ours = rows.filter((r) => events.some((e) => e.eventId === r.eventId));
    for (const workflowId of new Set(events.map((e) => e.workflowId))) {
      await assertDelivered(temporal.env.client, workflowId, ours.filter((r) => r.workflowId === workflowId));
    }
  } finally {
    await webhook.close();
  }
});

test('while Temporal is slower than slowSignalMs, one probe is signalled, other requests go to the inbox at once', async () => {
  const { log } = testLogger('ingest-slow');
  const tenant = (await ensureTenant(database.db, 'slow')).id;
  let held: Checkpoint | undefined;
  let arrivals = 0;
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({
    connection,
    namespace: temporal.namespace,
    interceptors: {
      workflow: [
        {
          async signalWithStart(input, next) {
            arrivals += 1;
            if (held) await held.arrive();
            return next(input);
          },
        },
      ],
    },
  });
  const eventLog = createEventLog({ db: database.db, log });
  // Every completed signal counts as slow; a probe at most every minute (never twice in this test).
  const ingestor = createIngestor({ db: database.db, client, taskQueue: uniqueTaskQueue('slow'), log, eventLog, gate: createTemporalGate(), slowSignalMs: 0, slowProbeIntervalMs: 60_000 });
  const event = (number: number) => ({ tenantId: tenant, tenant: 'slow', source: 'eConomicOrder' as const, number });
  try {
    assert.equal((await ingestor.accept(event(1))).outcome, 'signalled', 'no latency known yet: straight to Temporal');
    held = checkpoint();
    const probe = ingestor.accept(event(2));
    await held.reached;
    assert.equal(arrivals, 2);
    assert.equal((await ingestor.accept(event(3))).outcome, 'queued', 'a probe in flight while Temporal is slow: the inbox takes it');
    held.release();
    assert.equal((await probe).outcome, 'signalled');
    assert.equal((await ingestor.accept(event(4))).outcome, 'queued', 'no second probe within the interval');
    assert.equal(arrivals, 2);
  } finally {
    held?.release();
    await eventLog.stop();
    await connection.close();
  }
});

test('an event sent to the inbox for speed or by a closed gate is signalled after all when the inbox refuses it', async () => {
  const { log } = testLogger('ingest-last-resort');
  const tenant = (await ensureTenant(database.db, 'last-resort')).id;
  // The inbox is a database that is gone (Postgres restarting); Temporal is up.
  const dead = await openDatabase({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', dataDir: '/nonexistent', maxConnections: 1 });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  const eventLog = createEventLog({ db: database.db, log });
  const gate = createTemporalGate();
  const event = (number: number) => ({ tenantId: tenant, tenant: 'last-resort', source: 'eConomicOrder' as const, number });
  try {
    // Every signal counts as slow and probes are a minute apart: after the first, events go to the inbox.
    const slow = createIngestor({ db: dead.db, client, taskQueue: uniqueTaskQueue('last-resort'), log, eventLog, gate, slowSignalMs: 0, slowProbeIntervalMs: 60_000, inboxTimeoutMs: 300 });
    assert.equal((await slow.accept(event(1))).outcome, 'signalled');
    assert.equal((await slow.accept(event(2))).outcome, 'signalled', 'Temporal slow, the inbox down: Temporal takes it rather than a 503');
    gate.markDown();
    const closed = createIngestor({ db: dead.db, client, taskQueue: uniqueTaskQueue('last-resort'), log, eventLog, gate, inboxTimeoutMs: 300 });
    assert.equal((await closed.accept(event(3))).outcome, 'signalled', 'gate closed, the inbox down: Temporal takes it rather than a 503');
  } finally {
    await eventLog.stop();
    await connection.close();
    await dead.close();
  }
});
