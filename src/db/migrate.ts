// Applies the committed drizzle-kit migrations (./drizzle). Run at every start; already-applied
// migrations are skipped. Several processes may start at once (ROLE=api and ROLE=worker), so on
// Postgres the migration runs on one dedicated connection under an advisory lock.
import path from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import postgres from 'postgres';
import { PROJECT_ROOT } from '../project-root';
import type { DatabaseHandle } from './client';

export const MIGRATIONS_FOLDER = path.join(PROJECT_ROOT, 'drizzle');
const MIGRATION_LOCK_ID = 4_711_301;

export async function migrateDatabase(handle: DatabaseHandle): Promise<void> {
  if (handle.kind === 'pglite') {
    await migratePglite(handle.db as never, { migrationsFolder: MIGRATIONS_FOLDER });
    return;
  }
  if (!handle.url) throw new Error('migrateDatabase: Postgres handle without a URL');
  const connection = postgres(handle.url, { max: 1, onnotice: () => {} });
  try {
    await connection`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migratePostgres(drizzle(connection), { migrationsFolder: MIGRATIONS_FOLDER });
    await connection`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
  } finally {
    await connection.end({ timeout: 5 });
  }
}
