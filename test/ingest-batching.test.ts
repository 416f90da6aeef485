// What a burst of webhooks shares (docs/webhook.md, "Durable acceptance"), over a real Postgres. The
// inbox's group commit (src/ingest/inbox-writer.ts): many concurrent rows go in few inserts; no write
// resolves before its row is committed (a lock held by another connection holds every acceptance back);
// a failed group commit rejects every row in it and writes none; a row the database refuses fails alone.
// The batched reads of the webhook path (src/util/batch-loader.ts): API keys and grants of concurrent
// requests are read together and stay exact; their new grant tokens are written together, at most
// MAX_PENDING_CANDIDATES per tenant.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { inArray, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createApiKey, createApiKeyAuthenticator, ensureTenant, revokeApiKey } from '../src/access/api-keys';
import { adoptVerifiedGrant, dropCandidate, MAX_PENDING_CANDIDATES } from '../src/access/grants';
import { grantCandidates } from '../src/db/schema';
import { createGrantRecorder } from '../src/ingest/grant-recorder';
import { createSecretBox } from '../src/secrets/secret-box';
import { createBatchLoader } from '../src/util/batch-loader';
import { registerSecret, testLogger } from './helpers/test-logs';
import { openDatabase, queryRows } from '../src/db/client';
import { syncEvents } from '../src/db/schema';
import { createInboxWriter, type InboxRow } from '../src/ingest/inbox-writer';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { waitFor } from './helpers/wait';

registerSecret('grant-token', 'grant-batched');

let database: TestDatabase;
let tenantId: number;

before(async () => {
  database = await createTestDatabase('es_inbox');
  tenantId = (await ensureTenant(database.db, 'inbox')).id;
});

after(async () => {
  await database?.drop();
});

const row = (number: number, tenant = tenantId): InboxRow => ({
  eventId: randomUUID(),
  tenantId: tenant,
  source: 'eConomicOrder',
  kind: 'order',
  number,
  oldNumber: null,
  receivedAt: new Date(),
  workflowId: `economic/inbox/order/${number}`,
  outcome: 'queued',
});

const stored = async (rows: InboxRow[]) =>
  (await database.db.select({ eventId: syncEvents.eventId }).from(syncEvents).where(inArray(syncEvents.eventId, rows.map((r) => r.eventId)))).length;

test('1,000 concurrent rows are committed in a few group commits, every one stored', async () => {
  const groups: number[] = [];
  const writer = createInboxWriter({ db: database.db, onCommit: (n) => groups.push(n) });
  const rows = Array.from({ length: 1000 }, (_, i) => row(i + 1));
  await Promise.all(rows.map((r) => writer.write(r)));
  assert.equal(await stored(rows), 1000);
  assert.equal(groups.reduce((a, b) => a + b, 0), 1000);
  assert.ok(groups.length <= 10, `group commits: ${groups.length} (${groups.join(', ')})`);
  assert.equal(writer.waiting, 0);
});

test('no write resolves before its row is committed: a lock held elsewhere holds every acceptance back', async () => {
  const writer = createInboxWriter({ db: database.db });
  const locker = postgres(database.url, { max: 1, onnotice: () => {} });
  const rows = Array.from({ length: 50 }, (_, i) => row(2000 + i));
  const resolved: InboxRow[] = [];
  try {
    const reserved = await locker.reserve();
    await reserved`begin`;
    await reserved`lock table sync_events in exclusive mode`;
    const writes = rows.map((r) => writer.write(r).then(() => resolved.push(r)));
    // Every group commit is blocked on the lock (seen from the server, not from a timer).
    await waitFor('the group commits to wait for the lock', async () => {
      const [waiting] = await queryRows<{ n: number }>(
        database.db,
        sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike 'insert into %sync_events%'`,
      );
      return (waiting?.n ?? 0) >= 1;
    });
    assert.equal(resolved.length, 0, 'nothing acknowledged while the rows are not committed');
    await reserved`commit`;
    reserved.release();
    await Promise.all(writes);
    assert.equal(resolved.length, 50);
    assert.equal(await stored(rows), 50);
  } finally {
    await locker.end();
  }
});

test('a failed group commit rejects every row in it, and none is stored', async () => {
  // A database that cannot be reached: every group commit fails.
  const dead = await openDatabase({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', dataDir: '/nonexistent', maxConnections: 1 });
  try {
    const writer = createInboxWriter({ db: dead.db, timeoutMs: 2000 });
    const rows = Array.from({ length: 30 }, (_, i) => row(3000 + i));
    const results = await Promise.allSettled(rows.map((r) => writer.write(r)));
    assert.ok(results.every((r) => r.status === 'rejected'), 'every waiter told it is not durable');
    assert.equal(await stored(rows), 0);
  } finally {
    await dead.close();
  }
});

test('a row the database refuses fails alone; the others of its group are committed', async () => {
  const writer = createInboxWriter({ db: database.db });
  const good = Array.from({ length: 20 }, (_, i) => row(4000 + i));
  const bad = row(4100, 999_999_999); // no such tenant: a foreign-key violation
  const results = await Promise.allSettled([...good.slice(0, 10), bad, ...good.slice(10)].map((r) => writer.write(r)));
  assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
  assert.equal(results[10]?.status, 'rejected');
  assert.equal(await stored(good), 20);
  assert.equal(await stored([bad]), 0);
});

test('batch loader: concurrent loads share reads, a read never serves a load that came after it began', async () => {
  const reads: number[][] = [];
  let release: (() => void) | undefined;
  const loader = createBatchLoader<number, string>(async (keys) => {
    reads.push(keys);
    if (reads.length === 1) await new Promise<void>((resolve) => (release = resolve));
    return new Map(keys.map((k) => [k, `v${k}:${reads.length}`]));
  }, { maxConcurrent: 1 });
  const first = Array.from({ length: 100 }, (_, i) => loader.load(i % 5));
  await waitFor('the first read to begin', () => Promise.resolve(release !== undefined));
  // Asked while the first read is in flight: answered by a later read.
  const later = loader.load(1);
  release?.();
  assert.deepEqual(new Set(await Promise.all(first)), new Set(['v0:1', 'v1:1', 'v2:1', 'v3:1', 'v4:1']));
  assert.equal(await later, 'v1:2');
  assert.deepEqual(reads, [[0, 1, 2, 3, 4], [1]]);
  assert.equal(await loader.load(99), 'v99:3');
});

test('API keys of concurrent requests are checked together and exactly: a key revoked before a request is refused', async () => {
  const good = (await createApiKey(database.db, { tenant: 'batched' })).key;
  const other = (await createApiKey(database.db, { tenant: 'batched-other' })).key;
  const revoked = (await createApiKey(database.db, { tenant: 'batched' })).key;
  await revokeApiKey(database.db, revoked);
  const authenticator = createApiKeyAuthenticator(database.db);
  const keys = Array.from({ length: 300 }, (_, i) => [good, other, revoked, 'C5E6A287-1B4B-4EAF-AD57-2CF78A52927C'][i % 4]!);
  const answers = await Promise.all(keys.map((k) => authenticator.authenticate(k)));
  for (const [i, answer] of answers.entries()) {
    if (i % 4 === 0) assert.ok(answer.ok && answer.key.tenant === 'batched');
    else if (i % 4 === 1) assert.ok(answer.ok && answer.key.tenant === 'batched-other');
    else assert.deepEqual(answer, { ok: false, reason: 'invalid' });
  }
  await revokeApiKey(database.db, good);
  assert.deepEqual(await authenticator.authenticate(good), { ok: false, reason: 'invalid' }, 'refused from the very next request');
});

test("grants of concurrent webhooks are read together: a new token is stored once as a candidate, the tenant's schedule ensured once", async () => {
  const { id } = await ensureTenant(database.db, 'batched-grants');
  const { log } = testLogger('ingest-batching');
  const newGrants: number[] = [];
  const recorder = createGrantRecorder({ db: database.db, box: createSecretBox(Buffer.alloc(32, 7)), log, onNewGrant: async (tenant) => void newGrants.push(tenant) });
  await Promise.all(Array.from({ length: 200 }, () => recorder.record(id, 'grant-batched')));
  const candidates = await database.db.select().from(grantCandidates).where(inArray(grantCandidates.tenantId, [id]));
  assert.equal(candidates.length, 1);
  assert.deepEqual(newGrants, [id]);
});

test('a client spraying invented grant tokens gets at most MAX_PENDING_CANDIDATES of them stored; the real one gets in once verification made room', async () => {
  const { id } = await ensureTenant(database.db, 'sprayed-grants');
  const { log } = testLogger('ingest-batching');
  const box = createSecretBox(Buffer.alloc(32, 9));
  const newGrants: number[] = [];
  const recorder = createGrantRecorder({ db: database.db, box, log, onNewGrant: async (tenant) => void newGrants.push(tenant) });
  const invented = Array.from({ length: 60 }, (_, i) => `grant-sprayed-${i}`);
  for (const token of invented) registerSecret('grant-token', token);
  // Two waves: the second finds the first's candidates pending.
  await Promise.all(invented.slice(0, 30).map((token) => recorder.record(id, token)));
  await Promise.all(invented.slice(30).map((token) => recorder.record(id, token)));
  const pending = () => database.db.select({ fingerprint: grantCandidates.fingerprint }).from(grantCandidates).where(inArray(grantCandidates.tenantId, [id]));
  const stored = await pending();
  assert.equal(stored.length, MAX_PENDING_CANDIDATES);
  assert.equal(newGrants.length, MAX_PENDING_CANDIDATES, 'each stored candidate is announced once');
  // The first ones to arrive are kept, in arrival order within the batch.
  assert.deepEqual(new Set(stored.map((r) => r.fingerprint)), new Set(invented.slice(0, MAX_PENDING_CANDIDATES).map((t) => box.fingerprint(t))));

  const real = 'grant-real-after-spray';
  registerSecret('grant-token', real);
  await recorder.record(id, real);
  assert.ok(!(await pending()).some((r) => r.fingerprint === box.fingerprint(real)), 'no room: ignored');
  // Verification drops a refused candidate (dropCandidate): the next webhook with the real token gets in.
  await dropCandidate(database.db, id, box.fingerprint(invented[0]!));
  await recorder.record(id, real);
  assert.ok((await pending()).some((r) => r.fingerprint === box.fingerprint(real)));
  assert.equal((await pending()).length, MAX_PENDING_CANDIDATES);
});

test("the API key's read brings the tenant's grant state, as committed before the request: the webhook's grant check needs no second read", async () => {
  const { key, tenantId: id } = await createApiKey(database.db, { tenant: 'key-and-grant' });
  registerSecret('api-key', key);
  const box = createSecretBox(Buffer.alloc(32, 5));
  const authenticator = createApiKeyAuthenticator(database.db);
  const first = await authenticator.authenticate(key);
  assert.ok(first.ok);
  assert.deepEqual(first.grant, { current: undefined }, 'no credentials yet');
  registerSecret('grant-token', 'grant-key-and-grant');
  await adoptVerifiedGrant(database.db, box, id, 'grant-key-and-grant', 4711);
  const second = await authenticator.authenticate(key);
  assert.ok(second.ok);
  assert.deepEqual(second.grant, { current: { fingerprint: box.fingerprint('grant-key-and-grant'), status: 'ok' } });
  // The recorder takes that state: the token in use is `unchanged` and writes nothing.
  const { log } = testLogger('ingest-batching');
  const newGrants: number[] = [];
  const recorder = createGrantRecorder({ db: database.db, box, log, onNewGrant: async (tenant) => void newGrants.push(tenant) });
  await recorder.record(id, 'grant-key-and-grant', second.grant);
  assert.deepEqual(newGrants, []);
  assert.equal((await database.db.select().from(grantCandidates).where(inArray(grantCandidates.tenantId, [id]))).length, 0);
});

test('a webhook that read the grant state before a verification adopted its token stores no candidate: the token is in use already', async () => {
  const { id } = await ensureTenant(database.db, 'adopted-meanwhile');
  const box = createSecretBox(Buffer.alloc(32, 3));
  const { log } = testLogger('ingest-batching');
  const newGrants: number[] = [];
  const recorder = createGrantRecorder({ db: database.db, box, log, onNewGrant: async (tenant) => void newGrants.push(tenant) });
  registerSecret('grant-token', 'grant-adopted-meanwhile');
  // The tenant had no grant when the webhook's API key was read; a sync verified and adopted the token since.
  await adoptVerifiedGrant(database.db, box, id, 'grant-adopted-meanwhile', 4712);
  await recorder.record(id, 'grant-adopted-meanwhile', { current: undefined });
  assert.deepEqual(newGrants, [], 'not announced as a new token');
  assert.equal((await database.db.select().from(grantCandidates).where(inArray(grantCandidates.tenantId, [id]))).length, 0, 'nothing for a sync to verify again');
  // Another token of the tenant is still a candidate.
  registerSecret('grant-token', 'grant-other-after-adoption');
  await recorder.record(id, 'grant-other-after-adoption', { current: undefined });
  assert.deepEqual(newGrants, [id]);
});
