// Sets up or upgrades Temporal's schema on Postgres with temporal-sql-tool, for the main (history) and the
// visibility database: create the database when missing, set up the versioning tables (`setup-schema -v
// 0.0`, a no-op on a database already past it), then apply every newer versioned change (`update-schema
// -d`), from the schema directories the Go module cache holds for the pinned server. Safe to run again at
// every upgrade: applied versions are skipped.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { goModCache } from '../../src/temporal/go-binaries';
import { TEMPORAL_SERVER_MODULE, TEMPORAL_SERVER_VERSION } from './binaries';
import type { PostgresTarget } from './postgres-target';

const execFileAsync = promisify(execFile);

export interface SchemaDatabases {
  database: string;
  visibilityDatabase: string;
}

/**
 * Where update-schema reads the versioned changes: `<GOMODCACHE>/go.temporal.io/server@v1.29.1/schema/
 * postgresql/v12/{temporal,visibility}/versioned`, left there by the `go install` that built the tool;
 * binaries from elsewhere (PATH, a release archive) use the identical copy embedded in the tool itself.
 */
export async function versionedSchemaArgs(kind: 'temporal' | 'visibility'): Promise<string[]> {
  const cache = await goModCache();
  const dir = cache && path.join(cache, `${TEMPORAL_SERVER_MODULE}@v${TEMPORAL_SERVER_VERSION}`, 'schema', 'postgresql', 'v12', kind, 'versioned');
  return dir && existsSync(dir) ? ['-d', dir] : ['--schema-name', `postgresql/v12/${kind}`];
}

async function sqlTool(binary: string, target: PostgresTarget, database: string, args: string[]): Promise<string> {
  // Connection settings through the tool's environment variables: the password stays off the command line.
  const env = { ...process.env, SQL_PLUGIN: 'postgres12', SQL_HOST: target.host, SQL_PORT: String(target.port), SQL_USER: target.user, SQL_PASSWORD: target.password, SQL_DATABASE: database };
  try {
    const { stdout, stderr } = await execFileAsync(binary, args, { env, timeout: 300_000 });
    return stdout + stderr;
  } catch (err) {
    const out = err as { stdout?: string; stderr?: string; message: string };
    const error = new Error(`temporal-sql-tool ${args.join(' ')} on database ${database} failed:\n${`${out.stdout ?? ''}${out.stderr ?? ''}`.trim() || out.message}`);
    (error as Error & { output?: string }).output = `${out.stdout ?? ''}${out.stderr ?? ''}`;
    throw error;
  }
}

async function createDatabaseIfMissing(binary: string, target: PostgresTarget, database: string): Promise<void> {
  try {
    await sqlTool(binary, target, database, ['create-database', '--defaultdb', 'postgres']);
  } catch (err) {
    if (!/already exists/i.test((err as Error & { output?: string }).output ?? '')) throw err;
  }
}

/** Creates (when missing) and migrates both databases to the pinned server's newest schema. */
export async function setupSchema(binary: string, target: PostgresTarget, databases: SchemaDatabases, report: (line: string) => void): Promise<void> {
  for (const [database, kind] of [[databases.database, 'temporal'], [databases.visibilityDatabase, 'visibility']] as const) {
    await createDatabaseIfMissing(binary, target, database);
    await sqlTool(binary, target, database, ['setup-schema', '-v', '0.0']);
    await sqlTool(binary, target, database, ['update-schema', ...(await versionedSchemaArgs(kind))]);
    report(`${kind} schema of Temporal ${TEMPORAL_SERVER_VERSION} set up in database ${database} on ${target.host}:${target.port}`);
  }
}
