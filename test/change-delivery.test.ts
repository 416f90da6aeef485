// Outbound webhooks of the change feed (docs/change-feed.md) on the real stack: Temporal dev server,
// Postgres, and a real HTTP subscriber. A subscriber receives every change of its tenant, signed, in
// cursor order; one that is down for a while gets everything once it is back; a change refused past the
// attempt limit is dead-lettered and replayed from the CLI; a worker killed mid-delivery loses nothing;
// a forged or replayed request fails the documented check.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { ActivityDeps } from '../activities';
import { runCommand } from '../src/cli/commands';
import { CliError, type CommandContext } from '../src/cli/context';
import { loadConfig } from '../src/config';
import { changeSubscribers, tenants } from '../src/db/schema';
import { createSecretBox } from '../src/secrets/secret-box';
import { changeDeliveryWorkflowId, SIGNATURE_HEADER } from '../src/shared/change-delivery';
import { createChangeLog } from '../src/store/change-log';
import { createEntityStore, type EntityStore } from '../src/store/entity-store';
import { customerRecord } from '../src/sync/entity-record';
import { verifySignature } from '../src/util/webhook-signature';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { startTestTemporal, startTestWorker, uniqueTaskQueue, type TestTemporal } from './helpers/temporal';
import { registerSecret } from './helpers/test-logs';
import { waitFor } from './helpers/wait';
import { startWorkerProcess } from './helpers/worker-process';

interface Received {
  cursor: number;
  body: string;
  signature: string | undefined;
  status: number;
}

/** A real HTTP subscriber whose answer the test decides per request. */
async function startSubscriber() {
  const received: Received[] = [];
  let answer: (cursor: number, number: number) => number | 'hang' = () => 200;
  const hanging: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const { cursor, number } = JSON.parse(body) as { cursor: number; number: number };
      const status = answer(cursor, number);
      const signature = req.headers[SIGNATURE_HEADER] as string | undefined;
      if (status === 'hang') {
        hanging.push(req);
        received.push({ cursor, body, signature, status: 0 });
        return;
      }
      received.push({ cursor, body, signature, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/economic-changes`,
    received,
    /** Cursors accepted (2xx), in arrival order. */
    accepted: () => received.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.cursor),
    answer(fn: (cursor: number, number: number) => number | 'hang') {
      answer = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let temporal: TestTemporal;
let database: TestDatabase;
let store: EntityStore;
let taskQueue: string;
let deps: ActivityDeps;
let secretsKeyHex: string;
let worker: { stop(): Promise<void> } | undefined;

before(async () => {
  [temporal, database] = await Promise.all([startTestTemporal(), createTestDatabase()]);
  secretsKeyHex = randomBytes(32).toString('hex');
  registerSecret('secrets-key', secretsKeyHex);
  taskQueue = uniqueTaskQueue('delivery');
  store = createEntityStore(database.db);
  deps = {
    db: database.db,
    secretBox: createSecretBox(Buffer.from(secretsKeyHex, 'hex')),
    economic: { restUrl: 'http://127.0.0.1:9', projectsUrl: 'http://127.0.0.1:9', appSecretToken: 'unused' },
    deliveryRequestTimeoutMs: 3000,
  };
  worker = await startTestWorker(temporal, deps, taskQueue);
});

after(async () => {
  await worker?.stop();
  await temporal?.shutdown();
  await database?.drop();
});

function context(limits: { maxAttempts: number; maxBackoff: string }): CommandContext {
  return {
    config: { ...loadConfig({}), taskQueue, secretsKey: secretsKeyHex, changesDeliveryMaxAttempts: limits.maxAttempts, changesDeliveryMaxBackoff: limits.maxBackoff },
    db: database.db,
    temporal: () => Promise.resolve(temporal.env.client),
  };
}

async function newTenant(name: string): Promise<number> {
  const [row] = await database.db.insert(tenants).values({ name }).returning();
  return row!.id;
}

/** Adds a subscriber through the CLI; returns its id and the secret printed once. */
async function addSubscriber(ctx: CommandContext, args: Record<string, unknown>): Promise<{ id: number; secret: string }> {
  const out = (await runCommand(ctx, 'subscribers add', args)).stdout;
  const id = Number(/^Added subscriber (\d+)/.exec(out)?.[1]);
  const secret = out.split('\n').at(-1)!;
  assert.match(secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  registerSecret('signing-secret', secret);
  return { id, secret };
}

let clock = Date.parse('2026-04-01T10:00:00Z');
const customer = (number: number, name: string) => {
  const at = new Date((clock += 1000)).toISOString();
  return customerRecord({ customerNumber: number, name, currency: 'DKK', lastUpdated: at }, at);
};

async function cursorsOf(tenantId: number, after = 0): Promise<number[]> {
  return (await createChangeLog(database.db).since(tenantId, after, 10_000)).map((r) => r.cursor);
}

test('a subscriber gets every change of its tenant, signed, in cursor order; another tenant\'s never', async () => {
  const subscriber = await startSubscriber();
  try {
    const mine = await newTenant('deliver-mine');
    const other = await newTenant('deliver-other');
    await store.commit(mine, [customer(1, 'before the subscriber')]);
    const before = await cursorsOf(mine);
    const { id, secret } = await addSubscriber(context({ maxAttempts: 5, maxBackoff: '1s' }), { tenant: 'deliver-mine', url: subscriber.url });
    for (let n = 2; n <= 6; n += 1) {
      await store.commit(mine, [customer(n, `c${n}`)]);
      await store.commit(other, [customer(n, `o${n}`)]);
    }
    await store.commit(mine, [customer(2, 'renamed')]);
    await store.markDeleted(mine, 'customer', 3, new Date((clock += 1000)).toISOString());
    const expected = await cursorsOf(mine, before.at(-1));
    assert.equal(expected.length, 7);
    await waitFor('every change delivered', () => subscriber.accepted().length >= expected.length, 30_000);
    assert.deepEqual(subscriber.accepted(), expected, 'each change once, in cursor order, none of the other tenant');

    const now = Math.floor(Date.now() / 1000);
    for (const r of subscriber.received) assert.deepEqual(verifySignature(secret, r.signature, r.body, now), { ok: true });
    const first = subscriber.received[0]!;
    assert.deepEqual(Object.keys(JSON.parse(first.body) as object).sort(), ['change', 'changedAt', 'cursor', 'kind', 'lastUpdated', 'number', 'oldNumber', 'tenant']);
    assert.doesNotMatch(first.body, /c2|DKK/, 'where to look, never entity data');
    // The documented check catches a forged body, a wrong secret, a replay after the tolerance, a missing header.
    assert.deepEqual(verifySignature(secret, first.signature, first.body.replace('"created"', '"deleted"'), now), { ok: false, reason: 'mismatch' });
    assert.deepEqual(verifySignature(`${secret}x`, first.signature, first.body, now), { ok: false, reason: 'mismatch' });
    assert.deepEqual(verifySignature(secret, first.signature, first.body, now + 3600), { ok: false, reason: 'too-old' });
    assert.deepEqual(verifySignature(secret, undefined, first.body, now), { ok: false, reason: 'malformed' });

    // The secret is stored encrypted and never listed.
    const [row] = await database.db.select().from(changeSubscribers).where(eq(changeSubscribers.id, id));
    assert.ok(row && !row.secretEncrypted.includes(secret.slice(6)));
    const listed = (await runCommand(context({ maxAttempts: 5, maxBackoff: '1s' }), 'subscribers list', {})).stdout;
    assert.match(listed, new RegExp(`^${id}\\s+deliver-mine\\s+${subscriber.url.replace(/[/.]/g, '\\$&')}\\s+\\S+\\s+-\\s+0$`, 'm'));
    assert.doesNotMatch(listed, /whsec_/);

    // Removed: the workflow ends and nothing more arrives.
    assert.match((await runCommand(context({ maxAttempts: 5, maxBackoff: '1s' }), 'subscribers remove', { id: String(id) })).stdout, /Removed subscriber/);
    await temporal.env.client.workflow.getHandle(changeDeliveryWorkflowId(id)).result();
    await store.commit(mine, [customer(7, 'after removal')]);
    const count = subscriber.received.length;
    await store.commit(mine, [customer(8, 'after removal')]);
    assert.equal(subscriber.received.length, count);
  } finally {
    await subscriber.close();
  }
});

test('a subscriber of every tenant gets each tenant\'s changes in order, a tenant created after it included', async () => {
  const subscriber = await startSubscriber();
  try {
    const a = await newTenant('deliver-all-a');
    await store.commit(a, [customer(1, 'before')]);
    const [skipped] = await cursorsOf(a);
    const { id } = await addSubscriber(context({ maxAttempts: 5, maxBackoff: '1s' }), { allTenants: true, url: subscriber.url });
    const b = await newTenant('deliver-all-b');
    for (let n = 2; n <= 4; n += 1) {
      await store.commit(a, [customer(n, `a${n}`)]);
      await store.commit(b, [customer(n, `b${n}`)]);
    }
    const expected = [...(await cursorsOf(a, skipped)), ...(await cursorsOf(b))].sort((x, y) => x - y);
    await waitFor('both tenants delivered', () => expected.every((c) => subscriber.accepted().includes(c)), 30_000);
    // Other tests' tenants are delivered too (it subscribes to all): look at these two.
    const ours = subscriber.received.filter((r) => expected.includes(r.cursor) && r.status === 200).map((r) => r.cursor);
    assert.deepEqual(ours, expected, 'each once, in cursor order');
    assert.ok(!subscriber.accepted().includes(skipped!), 'nothing from before the subscriber');
    assert.match((await runCommand(context({ maxAttempts: 5, maxBackoff: '1s' }), 'subscribers list', {})).stdout, new RegExp(`^${id}\\s+\\(all\\)`, 'm'));
    await runCommand(context({ maxAttempts: 5, maxBackoff: '1s' }), 'subscribers remove', { id: String(id) });
    await temporal.env.client.workflow.getHandle(changeDeliveryWorkflowId(id)).result();
  } finally {
    await subscriber.close();
  }
});

test('a subscriber down for a while loses nothing: everything arrives, in order, once it is back', async () => {
  const subscriber = await startSubscriber();
  try {
    const tenantId = await newTenant('deliver-down');
    subscriber.answer(() => 503);
    await addSubscriber(context({ maxAttempts: 1000, maxBackoff: '1s' }), { tenant: 'deliver-down', url: subscriber.url });
    for (let n = 1; n <= 5; n += 1) await store.commit(tenantId, [customer(n, `d${n}`)]);
    const expected = await cursorsOf(tenantId);
    await waitFor('several refused attempts', () => subscriber.received.length >= 4, 30_000);
    assert.deepEqual(subscriber.accepted(), []);
    subscriber.answer(() => 200);
    await waitFor('everything delivered after the subscriber is back', () => subscriber.accepted().length >= expected.length, 30_000);
    assert.deepEqual(subscriber.accepted(), expected);
  } finally {
    await subscriber.close();
  }
});

test('a change refused past the attempt limit is dead-lettered, the rest goes on, and `subscribers replay` delivers it', async () => {
  const subscriber = await startSubscriber();
  try {
    const tenantId = await newTenant('deliver-dead');
    const ctx = context({ maxAttempts: 2, maxBackoff: '1s' });
    // Customer 1 is refused every time, customer 2 accepted.
    subscriber.answer((_cursor, number) => (number === 1 ? 500 : 200));
    const { id } = await addSubscriber(ctx, { tenant: 'deliver-dead', url: subscriber.url });
    await store.commit(tenantId, [customer(1, 'poison')]);
    const [poison] = await cursorsOf(tenantId);
    await store.commit(tenantId, [customer(2, 'fine')]);
    const [, fine] = await cursorsOf(tenantId);
    await waitFor('the next change delivered past the dead letter', () => subscriber.accepted().includes(fine!), 30_000);
    assert.equal(subscriber.received.filter((r) => r.cursor === poison).length, 2, 'exactly the attempt limit');
    assert.match((await runCommand(ctx, 'subscribers list', {})).stdout, new RegExp(`^${id}\\s+deliver-dead\\s+.*\\s1$`, 'm'));

    subscriber.answer(() => 200);
    assert.equal((await runCommand(ctx, 'subscribers replay', { id: String(id) })).stdout, `Replaying 1 dead letter of subscriber ${id}, oldest first, before its next changes.`);
    await waitFor('the dead letter delivered', () => subscriber.accepted().includes(poison!), 30_000);
    await waitFor('no dead letters left', async () => /\s0$/m.test((await runCommand(ctx, 'subscribers list', {})).stdout.split('\n').find((l) => l.startsWith(`${id} `)) ?? ''), 10_000);
    assert.equal((await runCommand(ctx, 'subscribers replay', { id: String(id) })).stdout, `Subscriber ${id} has no dead letters.`);
  } finally {
    await subscriber.close();
  }
});

test('a worker killed during a delivery: another takes over and every change arrives', async () => {
  // Only a worker in a child process delivers: stop the in-process one.
  await worker?.stop();
  worker = undefined;
  const subscriber = await startSubscriber();
  const processEnv = {
    temporalAddress: temporal.address,
    namespace: temporal.namespace,
    taskQueue,
    databaseUrl: database.url,
    restUrl: 'http://127.0.0.1:9',
    projectsUrl: 'http://127.0.0.1:9',
    appSecretToken: 'unused',
    secretsKeyHex,
  };
  let child = await startWorkerProcess(processEnv);
  try {
    const tenantId = await newTenant('deliver-kill');
    // The first attempt at the first change hangs: the worker is killed while it waits for the answer.
    let hungOnce = false;
    subscriber.answer(() => {
      if (hungOnce) return 200;
      hungOnce = true;
      return 'hang';
    });
    await addSubscriber(context({ maxAttempts: 50, maxBackoff: '1s' }), { tenant: 'deliver-kill', url: subscriber.url });
    for (let n = 1; n <= 4; n += 1) await store.commit(tenantId, [customer(n, `k${n}`)]);
    const expected = await cursorsOf(tenantId);
    await waitFor('the delivery in flight', () => hungOnce, 30_000);
    await child.kill();
    child = await startWorkerProcess(processEnv);
    await waitFor('everything delivered by the new worker', () => subscriber.accepted().length >= expected.length, 60_000);
    assert.deepEqual(subscriber.accepted(), expected);
  } finally {
    await child.stop();
    await subscriber.close();
  }
});

test('subscribers add refuses bad input and changes nothing', async () => {
  const ctx = context({ maxAttempts: 5, maxBackoff: '1s' });
  await newTenant('deliver-input');
  const before = (await database.db.select().from(changeSubscribers)).length;
  const refused = (args: Record<string, unknown>, message: RegExp) =>
    assert.rejects(runCommand(ctx, 'subscribers add', args), (err: unknown) => err instanceof CliError && message.test(err.message));
  await refused({ tenant: 'deliver-input', url: 'ftp://example.com/x' }, /--url must use http or https/);
  await refused({ tenant: 'deliver-input', url: 'not a url' }, /--url must be an absolute http\(s\) URL/);
  await refused({ tenant: 'deliver-input', url: 'https://user:pw@example.com/x' }, /must not carry a user name or password/);
  await refused({ tenant: 'nobody', url: 'https://example.com/x' }, /no tenant named "nobody"/);
  await refused({ url: 'https://example.com/x' }, /--tenant <name>, or --all-tenants/);
  await refused({ tenant: 'deliver-input', allTenants: true, url: 'https://example.com/x' }, /exclude each other/);
  await assert.rejects(runCommand(ctx, 'subscribers remove', { id: 'abc' }), /give the subscriber id/);
  await assert.rejects(runCommand(ctx, 'subscribers remove', { id: '99999' }), /no subscriber 99999/);
  assert.equal((await database.db.select().from(changeSubscribers)).length, before);
});
