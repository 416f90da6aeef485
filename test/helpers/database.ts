// Each test file gets its own real Postgres database, created from scratch (migrations applied) and
// dropped afterwards. TEST_DATABASE_URL names the server and an existing database to connect to first.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { migrateDatabase } from '../../src/db/migrate';

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase extends DatabaseHandle {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(prefix = 'es_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ databaseUrl: url.toString(), dataDir: '/nonexistent', maxConnections: 10 });
  await migrateDatabase(handle);
  let dropped = false;
  return {
    ...handle,
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await handle.close();
      const adminAgain = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      try {
        await adminAgain.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await adminAgain.end();
      }
    },
  };
}
