// Durable acceptance when Temporal is unreachable: every 202 lands in the Postgres inbox and is relayed
// exactly once when Temporal is back; when the inbox fails too, 503 with Retry-After.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { asc, eq, inArray, sql } from 'drizzle-orm';
import { createApiKeyAuthenticator } from '../src/access/api-keys';
import { loadConfig } from '../src/config';
import { buildApp } from '../src/http/app';
import { createReadiness } from '../src/http/health';
import { createMetrics } from '../src/http/metrics';
import { webhookRoutes } from '../src/http/webhook-route';
import { createGrantRecorder } from '../src/ingest/grant-recorder';
import { createSecretBox } from '../src/secrets/secret-box';
import { openDatabase, queryRows } from '../src/db/client';
import { syncEvents } from '../src/db/schema';
import { createEventLog } from '../src/ingest/event-log';
import { createIngestor, createTemporalGate } from '../src/ingest/ingestor';
import { createInboxRelay } from '../src/ingest/inbox-relay';
import { API_SOURCES } from '../src/shared/entities';
import { createApiKey } from './helpers/api-keys';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { assertDelivered } from './helpers/history';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy';
import { startTestTemporal, uniqueTaskQueue, type TestTemporal } from './helpers/temporal';
import { registerSecret, testLogger } from './helpers/test-logs';
import { startTestWebhook, waitFor } from './helpers/webhook';

let temporal: TestTemporal;
let database: TestDatabase;
let proxy: TcpProxy;
let connection: Connection;
let client: Client;
let key: string;
const GRANT = `grant-${randomBytes(12).toString('hex')}`;
registerSecret('grant-token', GRANT);

before(async () => {
  [temporal, database] = await Promise.all([startTestTemporal(), createTestDatabase()]);
  proxy = await startTcpProxy(temporal.address);
  connection = await Connection.connect({ address: proxy.address });
  client = new Client({ connection, namespace: temporal.namespace });
  key = (await createApiKey(database.db, { tenant: 'outage' })).key;
});

after(async () => {
  await connection?.close();
  await proxy?.close();
  await temporal?.shutdown();
  await database?.drop();
});

test('Temporal unreachable mid-stream: every 202 is in the inbox, relayed (coalesced, never twice) when Temporal is back', async () => {
  const webhook = await startTestWebhook({
    db: database.db,
    client,
    taskQueue: uniqueTaskQueue('outage'),
    ingest: { signalTimeoutMs: 1000 },
    relay: { signalTimeoutMs: 1000 },
  });
  try {
    const send = async (number: number) => {
      const response = await webhook.app.inject({
        method: 'POST',
        url: `/?APIKey=${key}&APISource=${API_SOURCES[number % 5]}`,
        headers: { 'content-type': 'application/json' },
        payload: { eConomicAPIKey: GRANT, number: String(number) },
      });
      assert.equal(response.statusCode, 202, response.body);
      return response.json<{ eventId: string; workflowId: string }>();
    };
    const before = [];
    for (let n = 1; n <= 20; n++) before.push(await send(n));

    await proxy.cut();
    // During the outage, in parallel, including several events for the same entity.
    const during = await Promise.all(Array.from({ length: 120 }, (_, i) => send(100 + (i % 30))));
    const queuedRows = await database.db
      .select()
      .from(syncEvents)
      .where(inArray(syncEvents.eventId, during.map((d) => d.eventId)))
      .orderBy(asc(syncEvents.seq));
    assert.equal(queuedRows.length, during.length, 'every 202 during the outage is in the inbox');
    assert.ok(queuedRows.every((r) => r.outcome === 'queued' || r.outcome === 'relayed'));
    assert.ok(queuedRows.some((r) => r.outcome === 'queued'));
    const depth = await webhook.metrics.registry.metrics();
    assert.match(depth, /economic_sync_inbox_depth [1-9]\d*/);
    assert.match(depth, /economic_sync_dependency_up\{dependency="temporal"\} 0/);

    await proxy.restore();
    const afterwards = [];
    for (let n = 200; n < 210; n++) afterwards.push(await send(n));

    await waitFor('the inbox to drain', async () => {
      const rows = await database.db.select({ seq: syncEvents.seq }).from(syncEvents).where(eq(syncEvents.outcome, 'queued'));
      return rows.length === 0;
    });
    const all = [...before, ...during, ...afterwards];
    await webhook.pipeline.eventLog.flush();
    // Each event reached its workflow once at most, the relayed ones in order of arrival, coalesced.
    const delivered = await database.db.select().from(syncEvents).where(inArray(syncEvents.eventId, all.map((e) => e.eventId)));
    for (const workflowId of new Set(all.map((e) => e.workflowId))) {
      await assertDelivered(temporal.env.client, workflowId, delivered.filter((r) => r.workflowId === workflowId));
    }
    const rows = delivered;
    assert.equal(rows.length, all.length);
    const outcomes = new Map(rows.map((r) => [r.eventId, r.outcome]));
    for (const d of during) assert.equal(outcomes.get(d.eventId), 'relayed');
    for (const e of before) assert.equal(outcomes.get(e.eventId), 'signalled');
    assert.ok(rows.filter((r) => r.outcome === 'relayed').every((r) => r.relayedAt instanceof Date));
  } finally {
    await webhook.close();
  }
});

test('two relays over one inbox never relay a row twice', async () => {
  const { log } = testLogger('ingest-relays');
  const gate = createTemporalGate();
  const eventLog = createEventLog({ db: database.db, log });
  const taskQueue = uniqueTaskQueue('relays');
  // Queue events straight into the inbox: an ingestor whose Temporal is a closed port.
  const deadConnection = Connection.lazy({ address: '127.0.0.1:1' });
  const deadClient = new Client({ connection: deadConnection });
  const ingestor = createIngestor({ db: database.db, client: deadClient, taskQueue, log, eventLog, gate, signalTimeoutMs: 300 });
  const [tenant] = await queryRows<{ id: number }>(database.db, sql`select id from tenants where name = 'outage'`);
  assert.ok(tenant);
  const events = await Promise.all(
    Array.from({ length: 300 }, (_, i) => ingestor.accept({ tenantId: tenant.id, tenant: 'outage', source: 'eConomicProject', number: 5000 + (i % 40) })),
  );
  assert.ok(events.every((e) => e.outcome === 'queued'));
  const relays = [1, 2].map(() => createInboxRelay({ db: database.db, client, taskQueue, log, gate, batchSize: 25 }));
  let total = 0;
  for (;;) {
    const results = await Promise.all(relays.map((r) => r.relayOnce()));
    total += results.reduce((sum, r) => sum + r.relayed, 0);
    if (results.every((r) => r.relayed === 0 && !r.more)) break;
  }
  assert.equal(total, 300);
  const rows = await database.db.select().from(syncEvents).where(inArray(syncEvents.eventId, events.map((e) => e.eventId)));
  for (const workflowId of new Set(events.map((e) => e.workflowId))) {
    await assertDelivered(temporal.env.client, workflowId, rows.filter((r) => r.workflowId === workflowId), false);
  }
  assert.equal(gate.down, false);
  await eventLog.stop();
  await deadConnection.close();
});

test('503 with Retry-After only when neither Temporal nor the inbox takes the event', async () => {
  // The API key is checked against the live database; the event stores are a Temporal and a database that are gone.
  const dead = await openDatabase({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', dataDir: '/nonexistent', maxConnections: 1 });
  const deadConnection = Connection.lazy({ address: '127.0.0.1:1' });
  const deadClient = new Client({ connection: deadConnection });
  const metrics = createMetrics();
  const { log } = testLogger('ingest-unavailable');
  const gate = createTemporalGate();
  const eventLog = createEventLog({ db: dead.db, log });
  const ingestor = createIngestor({ db: dead.db, client: deadClient, taskQueue: 'none', log, eventLog, gate, signalTimeoutMs: 300, inboxTimeoutMs: 300 });
  const config = loadConfig({});
  const app = await buildApp({
    log,
    trustProxy: config.trustProxy,
    timeouts: config.http,
    readiness: createReadiness([], metrics),
    register: webhookRoutes({
      authenticator: createApiKeyAuthenticator(database.db),
      ingestor,
      grants: createGrantRecorder({ db: dead.db, box: createSecretBox(randomBytes(32)), log, timeoutMs: 300 }),
      metrics,
      limits: config.rateLimits,
    }),
  });
  try {
    const started = Date.now();
    const response = await app.inject({
      method: 'POST',
      url: `/?APIKey=${key}&APISource=eConomicOrder`,
      headers: { 'content-type': 'application/json' },
      payload: { eConomicAPIKey: GRANT, number: 1 },
    });
    assert.equal(response.statusCode, 503, response.body);
    assert.ok(Number(response.headers['retry-after']) > 0);
    assert.equal(response.json<{ error: string }>().error, 'unavailable');
    assert.ok(!response.body.includes(GRANT));
    assert.ok(Date.now() - started < 5000, 'answered within its deadlines');
    // Bad input is still a 4xx, not a 5xx, while everything is down.
    const bad = await app.inject({
      method: 'POST',
      url: `/?APIKey=${key}&APISource=eConomicOrder`,
      headers: { 'content-type': 'application/json' },
      payload: { eConomicAPIKey: GRANT, number: '[NEWNUMBER]' },
    });
    assert.equal(bad.statusCode, 400);
    assert.match(await metrics.registry.metrics(), /outcome="unavailable"\} 1/);
  } finally {
    await app.close();
    await eventLog.stop();
    await deadConnection.close();
    await dead.close().catch(() => {});
  }
});
