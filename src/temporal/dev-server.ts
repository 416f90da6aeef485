// Launches a local Temporal dev server, the real Temporal CLI's `server start-dev` (the binary resolved by
// ./cli-binary.ts), for `npm start` without TEMPORAL_ADDRESS and for tests and benchmarks. State persists
// in a SQLite file when one is given, in write-ahead-log mode (several times faster for signal-with-start
// than SQLite's default rollback journal: see docs/benchmarks.md, "Topology"); the search attributes of
// docs/temporal.md are registered at start; the Web UI is served when a UI port is given. The process is
// ours (./managed-process.ts): its log goes to a file next to the database or nowhere, and it is stopped
// with SIGTERM, then SIGKILL.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { ALL_SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { resolveTemporalCli } from './cli-binary';
import { freePort, startManagedProcess, waitUntilReady, type ManagedProcess } from './managed-process';

export interface LocalTemporalOptions {
  namespace?: string;
  /** SQLite file for persistent state; in-memory when absent (tests). */
  dbFilename?: string;
  /** Frontend port; a free one when absent. */
  port?: number;
  /** Web UI port; no UI when absent. */
  uiPort?: number;
  ip?: string;
  /** SQLite in WAL mode with synchronous=normal (default true; applies to a database file only). */
  wal?: boolean;
  /** Where the server's log goes; `<dbFilename>.log` by default with a database file, nowhere without. */
  logFile?: string;
  /** How long to wait for the frontend to serve the namespace. */
  startTimeoutMs?: number;
}

export interface LocalTemporal {
  address: string;
  namespace: string;
  /** The Web UI, when one was asked for. */
  uiUrl?: string;
  process: ManagedProcess;
  shutdown(): Promise<void>;
}

/**
 * SQLite settings for the dev server's database file. WAL lets readers and the writer proceed together
 * and, with synchronous=normal, syncs the log at checkpoints rather than at every commit: a power cut may
 * lose the last transactions but never corrupts the file, the trade-off a development server wants.
 * An in-memory database has no journal to change, so nothing is passed there.
 */
export const WAL_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'] as const;

export interface DevServerArgs {
  namespace: string;
  ip: string;
  port: number;
  uiPort?: number;
  dbFilename?: string;
  wal: boolean;
}

/** The command line of `temporal server start-dev` for these options (pure, for tests). */
export function devServerArgs(options: DevServerArgs): string[] {
  const args = ['server', 'start-dev', '--namespace', options.namespace, '--ip', options.ip, '--port', String(options.port)];
  // The HTTP API and metrics ports are left to the CLI, which picks free ones.
  args.push(...(options.uiPort === undefined ? ['--headless'] : ['--ui-ip', options.ip, '--ui-port', String(options.uiPort)]));
  if (options.dbFilename) {
    args.push('--db-filename', options.dbFilename);
    if (options.wal) for (const pragma of WAL_PRAGMAS) args.push('--sqlite-pragma', pragma);
  }
  for (const key of ALL_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${TypedSearchAttributes.toMetadataType(key.type)}`);
  args.push('--log-format', 'json', '--log-level', 'warn');
  return args;
}

export async function startLocalTemporal(options: LocalTemporalOptions = {}): Promise<LocalTemporal> {
  const cli = await resolveTemporalCli();
  if (!cli) {
    throw new Error('no Temporal CLI binary: install Go (the CLI is then built once) or set TEMPORAL_CLI_PATH to a `temporal` binary (README: Run it)');
  }
  const namespace = options.namespace ?? 'default';
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? (await freePort(ip));
  const args = devServerArgs({
    namespace,
    ip,
    port,
    uiPort: options.uiPort,
    dbFilename: options.dbFilename,
    wal: options.wal ?? true,
  });
  const logFile = options.logFile ?? (options.dbFilename ? `${options.dbFilename}.log` : undefined);
  if (options.dbFilename) mkdirSync(path.dirname(options.dbFilename), { recursive: true });
  const proc = startManagedProcess({ name: 'Temporal dev server', command: cli.path, args, logFile });
  const address = `${ip}:${port}`;
  try {
    await waitUntilServing(proc, address, namespace, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    address,
    namespace,
    uiUrl: options.uiPort === undefined ? undefined : `http://${ip === '0.0.0.0' ? 'localhost' : ip}:${options.uiPort}`,
    process: proc,
    shutdown: async () => {
      await proc.stop();
    },
  };
}

/** Ready means: the frontend answers for the namespace, with our search attributes registered. */
async function waitUntilServing(proc: ManagedProcess, address: string, namespace: string, timeoutMs: number): Promise<void> {
  const connection = Connection.lazy({ address });
  try {
    await waitUntilReady(proc, `serving namespace ${namespace}`, async () => {
      const listed = await connection.withDeadline(Date.now() + 2000, () => connection.operatorService.listSearchAttributes({ namespace }));
      const names = Object.keys(listed.customAttributes ?? {});
      return ALL_SEARCH_ATTRIBUTES.every((key) => names.includes(key.name));
    }, timeoutMs);
  } finally {
    await connection.close();
  }
}
