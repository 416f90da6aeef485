// Database errors told apart by what heals them (src/db/errors.ts, activities/database-failure.ts), on
// errors the real drivers raise: an unreachable Postgres is retried, a constraint violation or a statement
// Postgres refuses is not, and the bookkeeping group (retried without an attempt limit) fails anything
// but an outage at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/client';
import { tenants } from '../src/db/schema';
import { createEntityStore } from '../src/store/entity-store';
import { documentRecord } from '../src/sync/entity-record';
import { retryingOnlyDatabaseOutages, withDatabaseFailures } from '../activities/database-failure';
import { createTestDatabase, type TestDatabase } from './helpers/database';

let database: TestDatabase;

before(async () => {
  database = await createTestDatabase();
});

after(async () => {
  await database?.drop();
});

async function failureOf(run: () => Promise<unknown>): Promise<ApplicationFailure> {
  const err = await run().then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, String(err));
  return err;
}

test('an unreachable Postgres is DatabaseUnavailable and retried; a refused statement and a constraint are not', async () => {
  const gone = await openDatabase({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', dataDir: '/nonexistent', maxConnections: 1 });
  const [tenant] = await database.db.insert(tenants).values({ name: 'failures' }).returning();
  assert.ok(tenant);
  const store = createEntityStore(database.db);
  const activities = withDatabaseFailures({
    unreachable: () => gone.db.execute(sql`select 1`),
    badStatement: () => database.db.execute(sql`select no_such_column from tenants`),
    // An order naming a customer that was never stored: the store reports the foreign key, never the data.
    constraint: () =>
      store.commit(tenant.id, [documentRecord('order', 1, { date: '2026-01-05', currency: 'DKK', netAmount: 1, grossAmount: 1.25, customer: { customerNumber: 404 }, notes: { heading: 'Hemmelig overskrift' } }, new Date().toISOString(), 'drafts')]),
  });
  try {
    const unreachable = await failureOf(activities.unreachable);
    assert.equal(unreachable.type, 'DatabaseUnavailable');
    assert.equal(unreachable.nonRetryable, false);

    const bad = await failureOf(activities.badStatement);
    assert.equal(bad.type, 'DatabaseError');
    assert.equal(bad.nonRetryable, true);
    assert.match(bad.message, /no_such_column.*\[42703\]/);

    const constraint = await failureOf(activities.constraint);
    assert.equal(constraint.type, 'IntegrityViolation');
    assert.equal(constraint.nonRetryable, true);
    assert.match(constraint.message, /foreign key constraint.*\[23503\]/);
    assert.doesNotMatch(constraint.message, /Hemmelig/);
  } finally {
    await gone.close();
  }
});

test('bookkeeping retries only an outage: a bug fails at once, typed by its name', async () => {
  const gone = await openDatabase({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', dataDir: '/nonexistent', maxConnections: 1 });
  const bookkeeping = retryingOnlyDatabaseOutages({
    outage: () => gone.db.execute(sql`select 1`),
    bug: async () => (JSON.parse('null') as { field: string }).field,
    typed: async () => {
      throw ApplicationFailure.retryable('already typed', 'SomethingTyped');
    },
  });
  try {
    assert.equal((await failureOf(bookkeeping.outage)).nonRetryable, false);
    const bug = await failureOf(bookkeeping.bug);
    assert.equal(bug.type, 'TypeError');
    assert.equal(bug.nonRetryable, true);
    const typed = await failureOf(bookkeeping.typed);
    assert.equal(typed.type, 'SomethingTyped');
    assert.equal(typed.nonRetryable, false, 'a typed failure keeps its own retry decision');
  } finally {
    await gone.close();
  }
});
