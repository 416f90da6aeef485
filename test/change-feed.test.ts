// The change feed (docs/change-feed.md) on a real Postgres database: every committed change gives exactly
// one `economic_changes` row in the commit's own transaction, nothing for a rollback or a refresh; a
// LISTEN reader hears a change within a second; a reader that was away catches up by cursor with nothing
// missing or doubled, even while commits race; old rows are pruned.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { runCommand } from '../src/cli/commands';
import { CliError, type CommandContext } from '../src/cli/context';
import { loadConfig } from '../src/config';
import { changeSubscriberProgress, changeSubscribers, economicChanges, tenants } from '../src/db/schema';
import { createChangeLog, parseChangeNotification, type ChangeLog, type ChangeNotification, type ChangeRow } from '../src/store/change-log';
import { createEntityStore, type EntityStore } from '../src/store/entity-store';
import { customerRecord, documentRecord } from '../src/sync/entity-record';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { waitFor } from './helpers/wait';

let database: TestDatabase;
let store: EntityStore;
let changeLog: ChangeLog;

before(async () => {
  database = await createTestDatabase();
  store = createEntityStore(database.db);
  changeLog = createChangeLog(database.db);
});

after(async () => {
  await database?.drop();
});

async function newTenant(name: string): Promise<number> {
  const [row] = await database.db.insert(tenants).values({ name }).returning();
  return row!.id;
}

/** Successive fetch instants, so each observation is newer than the last. */
let clock = Date.parse('2026-03-01T10:00:00Z');
const nextFetch = () => new Date((clock += 1000)).toISOString();

const customer = (number: number, name: string, lastUpdated = '2026-02-01T00:00:00Z') =>
  customerRecord({ customerNumber: number, name, currency: 'DKK', lastUpdated }, nextFetch());

const order = (number: number, customerNumber: number, opts: { lastUpdated?: string; text?: string; projectNumber?: number } = {}) =>
  documentRecord(
    'order',
    number,
    {
      orderNumber: number,
      date: '2026-01-05',
      customer: { customerNumber },
      ...(opts.projectNumber ? { project: { projectNumber: opts.projectNumber } } : {}),
      currency: 'DKK',
      netAmount: 10,
      grossAmount: 12.5,
      lastUpdated: opts.lastUpdated ?? '2026-02-01T00:00:00Z',
      lines: [{ lineNumber: 1, description: opts.text ?? 'x' }],
    },
    nextFetch(),
    'drafts',
  );

const all = (tenantId: number) => changeLog.since(tenantId, 0, 10_000);
const summary = (rows: ChangeRow[]) => rows.map((r) => `${r.kind}/${r.number}:${r.change}${r.oldNumber !== null ? `<${r.oldNumber}` : ''}`);

test('each commit, deletion and renumbering gives exactly one row; a refresh and a stale write give none', async () => {
  const tenantId = await newTenant('feed-rows');
  // A document and its customer, new: one row each, in commit order.
  await store.commit(tenantId, [customer(1, 'Først'), order(10, 1)]);
  assert.deepEqual(summary(await all(tenantId)), ['customer/1:created', 'order/10:created']);

  // Fetched again, unchanged: synced_at moves, nothing is logged.
  await store.commit(tenantId, [customer(1, 'Først'), order(10, 1)]);
  assert.equal((await all(tenantId)).length, 2);

  // A changed line: the order is updated, its unchanged customer is not.
  await store.commit(tenantId, [customer(1, 'Først'), order(10, 1, { lastUpdated: '2026-02-02T00:00:00Z', text: 'y' })]);
  // A changed status with the same data (sent instead of draft) is a change too.
  const sent = { ...order(10, 1, { lastUpdated: '2026-02-02T00:00:00Z', text: 'y' }), status: 'sent' as const };
  await store.commit(tenantId, [sent]);
  assert.deepEqual(summary(await all(tenantId)).slice(2), ['order/10:updated', 'order/10:updated']);

  // An older observation loses under the version rule: no write, no row.
  const stale = { ...order(10, 1, { lastUpdated: '2026-01-01T00:00:00Z' }), fetchedAt: new Date(clock - 3_600_000).toISOString() };
  assert.deepEqual(await store.commit(tenantId, [stale]), ['stale']);
  assert.equal((await all(tenantId)).length, 4);

  // Deleted once: one row; marking it again is no change.
  assert.equal(await store.markDeleted(tenantId, 'order', 10, nextFetch()), 'deleted');
  assert.equal(await store.markDeleted(tenantId, 'order', 10, nextFetch()), 'deleted');
  assert.equal(await store.markDeleted(tenantId, 'order', 99, nextFetch()), 'absent');
  // Back in e-conomic: created again (live again for the application).
  await store.commit(tenantId, [order(10, 1, { lastUpdated: '2026-02-03T00:00:00Z' })]);
  assert.deepEqual(summary(await all(tenantId)).slice(4), ['order/10:deleted', 'order/10:created']);

  // Renumbered 10 -> 11: the row moves, one `renumbered` row carrying the old number.
  await store.commit(tenantId, [order(11, 1, { lastUpdated: '2026-02-04T00:00:00Z' })], { renumberedFrom: 10 });
  const rows = await all(tenantId);
  assert.deepEqual(summary(rows).slice(6), ['order/11:renumbered<10']);
  assert.equal(rows.at(-1)?.lastUpdated?.toISOString(), '2026-02-04T00:00:00.000Z');

  // Renumbered onto a number that already has a row: the old number is deleted, the new one updated.
  await store.commit(tenantId, [order(12, 1)]);
  await store.commit(tenantId, [order(12, 1, { lastUpdated: '2026-02-05T00:00:00Z', text: 'z' })], { renumberedFrom: 11 });
  assert.deepEqual(summary(await all(tenantId)).slice(7), ['order/12:created', 'order/11:deleted', 'order/12:updated']);

  // Cursors increase and the tenant is named.
  const final = await all(tenantId);
  assert.ok(final.every((r, i) => i === 0 || r.cursor > final[i - 1]!.cursor));
  assert.ok(final.every((r) => r.tenant === 'feed-rows'));
});

test('a rolled-back commit leaves no row and sends no notification', async () => {
  const tenantId = await newTenant('feed-rollback');
  const heard: string[] = [];
  const listener = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    await listener.listen('economic_changes', (payload) => heard.push(payload));
    // Project 999 does not exist: the customer is written (and its change queued), then the order's
    // foreign key fails and the whole transaction rolls back.
    await assert.rejects(store.commit(tenantId, [customer(2, 'Forgæves'), order(20, 2, { projectNumber: 999 })]), /foreign key/);
    assert.deepEqual(await all(tenantId), []);
    // A later commit's notification arrives; the rolled-back one never did, before or after it.
    await store.commit(tenantId, [customer(3, 'Senere')]);
    await waitFor('the later notification', () => heard.some((p) => parseChangeNotification(p)?.tenant === 'feed-rollback'), 5_000);
    const ours = heard.map(parseChangeNotification).filter((n) => n?.tenant === 'feed-rollback');
    assert.deepEqual(ours.map((n) => `${n!.kind}/${n!.number}`), ['customer/3']);
  } finally {
    await listener.end({ timeout: 1 });
  }
});

test('a LISTEN reader hears a change within a second, with where to look and no entity data', async () => {
  const tenantId = await newTenant('feed-listen');
  const heard: Array<{ at: number; payload: string }> = [];
  const listener = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    await listener.listen('economic_changes', (payload) => heard.push({ at: Date.now(), payload }));
    const committedAt = Date.now();
    await store.commit(tenantId, [customer(5, 'Hemmelig Kunde ApS')]);
    const got = await waitFor('the notification', () => heard.find((h) => parseChangeNotification(h.payload)?.tenant === 'feed-listen'), 5_000, 5);
    assert.ok(got.at - committedAt < 1000, `heard after ${got.at - committedAt} ms`);
    const [row] = await all(tenantId);
    assert.deepEqual(JSON.parse(got.payload), { tenant: 'feed-listen', kind: 'customer', number: 5, change: 'created', cursor: row!.cursor });
    assert.doesNotMatch(got.payload, /Hemmelig|DKK/);
  } finally {
    await listener.end({ timeout: 1 });
  }
});

/**
 * The reader loop of the README: LISTEN, then read the log after the last cursor whenever a notification
 * (or the initial catch-up) says there may be more. Notifications are only a nudge; the log is the truth.
 */
function startReader(url: string, tenantId: number, tenant: string, from: number) {
  const seen: ChangeRow[] = [];
  let cursor = from;
  const client = postgres(url, { max: 1, onnotice: () => {} });
  let reading: Promise<void> = Promise.resolve();
  const catchUp = () => {
    reading = reading.then(async () => {
      for (;;) {
        const rows = await changeLog.since(tenantId, cursor, 100);
        seen.push(...rows);
        if (rows.length > 0) cursor = rows.at(-1)!.cursor;
        if (rows.length < 100) return;
      }
    });
    return reading;
  };
  const ready = client
    .listen('economic_changes', (payload) => {
      const n: ChangeNotification | undefined = parseChangeNotification(payload);
      if (n?.tenant === tenant && n.cursor > cursor) void catchUp();
    })
    .then(() => catchUp());
  return {
    seen,
    cursor: () => cursor,
    ready,
    catchUp,
    async stop() {
      await reading;
      await client.end({ timeout: 1 });
    },
  };
}

test('a reader disconnected through several changes catches up by cursor: nothing missing, nothing doubled', async () => {
  const tenantId = await newTenant('feed-resume');
  await store.commit(tenantId, [customer(1, 'a')]);
  const first = startReader(database.url, tenantId, 'feed-resume', 0);
  await first.ready;
  await store.commit(tenantId, [customer(2, 'b')]);
  await waitFor('the reader to see customer 2', () => first.seen.some((r) => r.number === 2), 5_000);
  const lastCursor = first.cursor();
  const before = first.seen.length;
  await first.stop();

  // While nobody listens: creations, an update, a deletion, a renumbering.
  await store.commit(tenantId, [customer(3, 'c')]);
  await store.commit(tenantId, [customer(1, 'a2', '2026-02-10T00:00:00Z')]);
  await store.commit(tenantId, [customer(4, 'd'), order(40, 4)]);
  await store.markDeleted(tenantId, 'order', 40, nextFetch());
  await store.commit(tenantId, [customer(5, 'c', '2026-02-11T00:00:00Z')], { renumberedFrom: 3 });

  const second = startReader(database.url, tenantId, 'feed-resume', lastCursor);
  await second.ready;
  await store.commit(tenantId, [customer(6, 'f')]);
  await waitFor('the reader to see customer 6', () => second.seen.some((r) => r.number === 6), 5_000);
  await second.stop();
  const got = [...first.seen.slice(0, before), ...second.seen];
  const expected = await all(tenantId);
  assert.deepEqual(got.map((r) => r.cursor), expected.map((r) => r.cursor));
  assert.deepEqual(summary(second.seen), ['customer/3:created', 'customer/1:updated', 'customer/4:created', 'order/40:created', 'order/40:deleted', 'customer/5:renumbered<3', 'customer/6:created']);
});

test('commits racing in one tenant become visible in cursor order: a reader polling all along misses none', async () => {
  const tenantId = await newTenant('feed-race');
  const reader = startReader(database.url, tenantId, 'feed-race', 0);
  await reader.ready;
  // Also poll without notifications, as often as possible, to catch any gap a late commit would leave.
  let polling = true;
  const poller = (async () => {
    while (polling) await reader.catchUp();
  })();
  const writers = Array.from({ length: 8 }, (_, w) =>
    (async () => {
      for (let i = 0; i < 25; i += 1) await store.commit(tenantId, [customer(1000 + w * 100 + i, `w${w}`)]);
    })(),
  );
  await Promise.all(writers);
  await waitFor('the reader to reach the last change', async () => reader.cursor() === (await changeLog.latestCursor(tenantId)), 10_000);
  polling = false;
  await poller;
  await reader.stop();
  const expected = await all(tenantId);
  assert.equal(expected.length, 200);
  assert.deepEqual(reader.seen.map((r) => r.cursor), expected.map((r) => r.cursor), 'every change exactly once, in cursor order');
});

test('rows older than the retention are pruned, newer ones kept', async () => {
  const tenantId = await newTenant('feed-prune');
  for (let n = 1; n <= 5; n += 1) await store.commit(tenantId, [customer(n, `p${n}`)]);
  const rows = await all(tenantId);
  // Three of them were written 40 days ago.
  await database.db.execute(sql`update economic_changes set changed_at = now() - interval '40 days' where cursor <= ${rows[2]!.cursor} and tenant_id = ${tenantId}`);
  const pruned = await changeLog.prune(new Date(Date.now() - 30 * 24 * 3600_000), 2);
  assert.ok(pruned >= 3);
  const left = await database.db.select({ cursor: economicChanges.cursor }).from(economicChanges).where(eq(economicChanges.tenantId, tenantId));
  assert.deepEqual(left.map((r) => Number(r.cursor)).sort((a, b) => a - b), rows.slice(3).map((r) => r.cursor));
});

test('pruning keeps the rows a live webhook subscriber has not received yet', async () => {
  const tenantId = await newTenant('feed-prune-held');
  for (let n = 1; n <= 4; n += 1) await store.commit(tenantId, [customer(n, `h${n}`)]);
  const rows = await all(tenantId);
  await database.db.execute(sql`update economic_changes set changed_at = now() - interval '40 days' where tenant_id = ${tenantId}`);
  // A subscriber that received the first row only (down since), and a removed one that received none.
  const [live] = await database.db.insert(changeSubscribers).values({ tenantId, url: 'https://example.com/a', secretEncrypted: 'x' }).returning();
  await database.db.insert(changeSubscriberProgress).values({ subscriberId: live!.id, tenantId, cursor: rows[0]!.cursor });
  await database.db.insert(changeSubscribers).values({ tenantId, url: 'https://example.com/b', secretEncrypted: 'x', removedAt: new Date() });
  const cutoff = new Date(Date.now() - 30 * 24 * 3600_000);
  await changeLog.prune(cutoff);
  assert.deepEqual((await all(tenantId)).map((r) => r.cursor), rows.slice(1).map((r) => r.cursor));
  // Removed, it holds nothing back.
  await database.db.update(changeSubscribers).set({ removedAt: new Date() }).where(eq(changeSubscribers.id, live!.id));
  await changeLog.prune(cutoff);
  assert.deepEqual(await all(tenantId), []);
});

test('`changes --tenant --since` prints the rows after the cursor and where to continue; bad input is refused', async () => {
  const tenantId = await newTenant('feed-cli');
  await store.commit(tenantId, [customer(1, 'a'), order(10, 1)]);
  await store.commit(tenantId, [order(11, 1, { lastUpdated: '2026-02-20T00:00:00Z' })], { renumberedFrom: 10 });
  const rows = await all(tenantId);
  const ctx: CommandContext = { config: loadConfig({}), db: database.db, temporal: () => Promise.reject(new Error('changes needs no Temporal')) };

  const out = (await runCommand(ctx, 'changes', { tenant: 'feed-cli', since: String(rows[0]!.cursor) })).stdout;
  const lines = out.split('\n');
  assert.match(lines[0]!, /^cursor\s+kind\s+number\s+change\s+old number\s+last updated\s+changed at$/);
  assert.match(lines[2]!, new RegExp(`^${rows[1]!.cursor}\\s+order\\s+10\\s+created\\s+-\\s+2026-02-01T00:00:00.000Z`));
  assert.match(lines[3]!, new RegExp(`^${rows[2]!.cursor}\\s+order\\s+11\\s+renumbered\\s+10\\s+2026-02-20T00:00:00.000Z`));
  assert.equal(lines.at(-1), `continue with --since ${rows[2]!.cursor}`);
  assert.equal(lines.length, 6);

  const limited = (await runCommand(ctx, 'changes', { tenant: 'feed-cli', since: '0', limit: '1' })).stdout;
  assert.match(limited, new RegExp(`continue with --since ${rows[0]!.cursor} \\(there may be more\\)$`));
  assert.equal((await runCommand(ctx, 'changes', { tenant: 'feed-cli', since: String(rows[2]!.cursor) })).stdout, `no changes after cursor ${rows[2]!.cursor}`);

  const refused = (args: Record<string, unknown>, message: RegExp) => assert.rejects(runCommand(ctx, 'changes', args), (err: unknown) => err instanceof CliError && message.test(err.message));
  await refused({ tenant: 'nobody', since: '0' }, /no tenant named "nobody"/);
  await refused({ tenant: 'feed-cli', since: '-1' }, /--since must be a whole number/);
  await refused({ tenant: 'feed-cli', since: 'abc' }, /--since must be a whole number/);
  await refused({ tenant: 'feed-cli', since: '0', limit: '0' }, /--limit must be a whole number from 1 to 10000/);
  await refused({ since: '0' }, /give the tenant/);
});
