// The version rule (src/store/version-rule.ts) as a table: each row is what the store holds, what a sync
// saw, and whether it may replace it. The same table is played through the entity store on a real
// database (commit and markDeleted both decide by the rule); the races that need it are played end to
// end in test/sync-races.test.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { economicCustomers, tenants } from '../src/db/schema';
import { createEntityStore } from '../src/store/entity-store';
import { supersedes, type Observation, type StoredVersion } from '../src/store/version-rule';
import { customerRecord } from '../src/sync/entity-record';
import { createTestDatabase, type TestDatabase } from './helpers/database';

const at = (minute: number) => new Date(Date.UTC(2026, 4, 1, 10, minute));
const version = (lastUpdated: number | null, fetchedAt: number): Observation => ({ lastUpdated: lastUpdated === null ? null : at(lastUpdated), fetchedAt: at(fetchedAt) });
const gone = (fetchedAt: number): Observation => ({ lastUpdated: null, fetchedAt: at(fetchedAt), gone: true });
const live = (lastUpdated: number | null, syncedAt: number): StoredVersion => ({ lastUpdated: lastUpdated === null ? null : at(lastUpdated), syncedAt: at(syncedAt), deletedAt: null });
const deleted = (lastUpdated: number | null, deletedAt: number): StoredVersion => ({ lastUpdated: lastUpdated === null ? null : at(lastUpdated), syncedAt: at(deletedAt), deletedAt: at(deletedAt) });

// [case, stored, observed, written]
const RULES: Array<[string, StoredVersion | undefined, Observation, boolean]> = [
  ['nothing stored: a version is written', undefined, version(5, 10), true],
  ['nothing stored: a deletion is written (nothing to mark)', undefined, gone(10), true],
  ['newer lastUpdated wins, even fetched earlier', live(5, 20), version(6, 10), true],
  ['older lastUpdated loses, even fetched later', live(6, 10), version(5, 20), false],
  ['equal lastUpdated: the later fetch wins', live(5, 10), version(5, 11), true],
  ['equal lastUpdated: the earlier fetch loses', live(5, 11), version(5, 10), false],
  ['equal lastUpdated, the same fetch again (a retried commit): written again', live(5, 10), version(5, 10), true],
  ['neither has lastUpdated: the later fetch wins', live(null, 10), version(null, 11), true],
  ['neither has lastUpdated: the earlier fetch loses', live(null, 11), version(null, 10), false],
  ['only the stored one has lastUpdated (archived since): by fetch time', live(5, 10), version(null, 11), true],
  ['only the stored one has lastUpdated, fetched earlier: loses', live(5, 11), version(null, 10), false],
  ['only the incoming one has lastUpdated: by fetch time', live(null, 10), version(9, 11), true],
  ['only the incoming one has lastUpdated, fetched earlier: loses', live(null, 11), version(9, 10), false],
  ['a deletion seen after the stored fetch marks the row', live(5, 10), gone(11), true],
  ['a deletion seen before the stored fetch changes nothing', live(5, 11), gone(10), false],
  ['a deletion of a deleted row changes nothing', deleted(5, 10), gone(11), false],
  ['a deleted row comes back with a fetch later than its deletion', deleted(5, 10), version(5, 11), true],
  ['a deleted row comes back even with an older lastUpdated when fetched later', deleted(5, 10), version(4, 11), true],
  ['a fetch from before the deletion never resurrects, however new its lastUpdated', deleted(5, 10), version(9, 9), false],
  ['a fetch from the deletion instant does not resurrect', deleted(5, 10), version(5, 10), false],
];

test('the version rule, case by case', () => {
  for (const [name, stored, observed, written] of RULES) {
    assert.equal(supersedes(observed, stored), written, name);
  }
});

let database: TestDatabase;
let tenantId: number;

before(async () => {
  database = await createTestDatabase();
  const [row] = await database.db.insert(tenants).values({ name: 'versions' }).returning();
  tenantId = row!.id;
});

after(async () => {
  await database?.drop();
});

test('the entity store applies the version rule in commit and markDeleted, case by case', async () => {
  const store = createEntityStore(database.db);
  const record = (number: number, name: string, lastUpdated: Date | null, fetchedAt: Date) =>
    customerRecord({ customerNumber: number, name, currency: 'DKK', ...(lastUpdated ? { lastUpdated: lastUpdated.toISOString() } : {}) }, fetchedAt.toISOString());
  const row = async (number: number) =>
    (await database.db.select().from(economicCustomers).where(and(eq(economicCustomers.tenantId, tenantId), eq(economicCustomers.customerNumber, number))))[0];

  for (const [index, [name, stored, observed, written]] of RULES.entries()) {
    const number = 1000 + index;
    if (stored) {
      // A deleted row: a version fetched just before, then the deletion seen at `deletedAt`.
      const fetchedAt = stored.deletedAt ? new Date(stored.deletedAt.getTime() - 60_000) : stored.syncedAt;
      await store.commit(tenantId, [record(number, 'stored', stored.lastUpdated, fetchedAt)]);
      if (stored.deletedAt) await store.markDeleted(tenantId, 'customer', number, stored.deletedAt.toISOString());
    }
    const before = await row(number);
    if (observed.gone) {
      await store.markDeleted(tenantId, 'customer', number, observed.fetchedAt.toISOString());
      const afterwards = await row(number);
      if (!before) assert.equal(afterwards, undefined, `${name}: nothing to mark`);
      else assert.equal(afterwards?.deletedAt?.getTime(), written ? observed.fetchedAt.getTime() : before.deletedAt?.getTime(), name);
    } else {
      const [outcome] = await store.commit(tenantId, [record(number, 'observed', observed.lastUpdated, observed.fetchedAt)]);
      assert.equal(outcome, written ? 'written' : 'stale', name);
      const afterwards = await row(number);
      assert.equal(afterwards?.name, written ? 'observed' : 'stored', name);
      assert.equal(afterwards?.deletedAt?.getTime(), written ? undefined : before?.deletedAt?.getTime(), name);
    }
  }
});
