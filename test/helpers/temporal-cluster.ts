// A real Temporal server on Postgres, brought up with the operator's own commands (scripts/temporal-server.ts,
// as docs/production.md lists them) into fresh databases: `schema`, `config`, `start`, `namespace`. Used by
// the production-topology tests (compiled: node dist/scripts/temporal-server.js) and the benchmark (tsx).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { startManagedProcess, type ManagedProcess } from '../../src/temporal/managed-process';
import { PROJECT_ROOT } from '../../src/project-root';
import { ADMIN_URL } from './database';

const execFileAsync = promisify(execFile);

/** How to run scripts/temporal-server.ts: compiled (after `npm run build`) or from the sources. */
export const COMPILED_SCRIPT = [process.execPath, path.join(PROJECT_ROOT, 'dist', 'scripts', 'temporal-server.js')];
export const SOURCE_SCRIPT = [process.execPath, '--import', 'tsx', path.join(PROJECT_ROOT, 'scripts', 'temporal-server.ts')];

export interface TemporalCluster {
  address: string;
  namespace: string;
  databases: { database: string; visibilityDatabase: string };
  server: ManagedProcess;
  /** Where the server's config and log are. */
  root: string;
  /** The commands that brought it up, for the record. */
  commands: string[];
  stop(): Promise<void>;
}

export interface TemporalClusterOptions {
  script?: string[];
  historyShards?: number;
  namespace?: string;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A frontend port whose whole block (frontend-300 … frontend+767, docs/production.md) is free; below
 * 32467, as the membership ports must fit Temporal's smallint (scripts/temporal-server/server-config.ts).
 */
async function freeFrontendPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const frontend = 12_000 + Math.floor(Math.random() * 20_000);
    const offsets = [0, 1, 2, 6, 10, 767, -300, -299, -298, -294];
    if ((await Promise.all(offsets.map((o) => portFree(frontend + o)))).every(Boolean)) return frontend;
  }
  throw new Error('no free port block for a Temporal server');
}

export async function startTemporalCluster(options: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const [command, ...prefix] = options.script ?? COMPILED_SCRIPT;
  if (!command) throw new Error('empty script command');
  const suffix = randomBytes(4).toString('hex');
  const databases = { database: `es_temporal_${suffix}`, visibilityDatabase: `es_temporal_${suffix}_visibility` };
  const admin = new URL(ADMIN_URL);
  const postgresUrl = `postgres://${admin.username || 'postgres'}@${admin.hostname}:${admin.port || 5432}`;
  const root = mkdtempSync(path.join(os.tmpdir(), 'economic-sync-temporal-'));
  const namespace = options.namespace ?? 'default';
  const port = await freeFrontendPort();
  const dbArgs = ['--postgres', postgresUrl, '--database', databases.database, '--visibility-database', databases.visibilityDatabase];
  const steps = {
    schema: ['schema', ...dbArgs],
    config: ['config', '--root', root],
    start: ['start', '--root', root, ...dbArgs, '--port', String(port), '--history-shards', String(options.historyShards ?? 4)],
    namespace: ['namespace', '--address', `127.0.0.1:${port}`, '--namespace', namespace],
  };
  const commands = Object.values(steps).map((args) => `temporal-server ${args.join(' ')}`);
  const run = (args: string[]) => execFileAsync(command, [...prefix, ...args], { timeout: 300_000 });

  const dropDatabases = async () => {
    const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    try {
      for (const name of Object.values(databases)) await sql.unsafe(`drop database if exists "${name}" with (force)`);
    } finally {
      await sql.end();
    }
  };

  await run(steps.schema);
  await run(steps.config);
  const server = startManagedProcess({ name: 'Temporal server', command, args: [...prefix, ...steps.start], logFile: path.join(root, 'server.log') });
  // The server dying while the namespace is prepared fails at once, with its log, not at a timeout.
  let settled = false;
  const crashed = server.exited.then(({ code, signal }) => {
    if (!settled) throw new Error(`Temporal server exited (${signal ?? `code ${code}`}) while starting:\n${server.tail()}`);
  });
  try {
    await Promise.race([run(steps.namespace), crashed]);
  } catch (err) {
    await server.stop();
    await dropDatabases();
    throw err;
  } finally {
    settled = true;
  }
  return {
    address: `127.0.0.1:${port}`,
    namespace,
    databases,
    server,
    root,
    commands,
    async stop() {
      await server.stop(30_000);
      await dropDatabases();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
