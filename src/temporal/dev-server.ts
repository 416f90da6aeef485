// Launches a local Temporal dev server (the real Temporal CLI's `server start-dev`) for `npm start`
// without TEMPORAL_ADDRESS, and for tests. State persists in a SQLite file when one is given, the
// search attributes of docs/temporal.md are registered, and the Web UI is served when a UI port is given.
// The SDK's ephemeral-server support manages the child process (stopped on teardown).
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { resolveTemporalCli } from './cli-binary';

export interface LocalTemporalOptions {
  namespace?: string;
  /** SQLite file for persistent state; in-memory when absent (tests). */
  dbFilename?: string;
  /** Frontend port; a free one when absent. */
  port?: number;
  /** Web UI port; no UI when absent. */
  uiPort?: number;
  ip?: string;
}

export interface LocalTemporal {
  env: TestWorkflowEnvironment;
  address: string;
  namespace: string;
  shutdown(): Promise<void>;
}

export async function startLocalTemporal(options: LocalTemporalOptions = {}): Promise<LocalTemporal> {
  const cli = await resolveTemporalCli();
  const namespace = options.namespace ?? 'default';
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      // Without a local binary, the SDK downloads its own dev server (needs internet).
      executable: cli ? { type: 'existing-path', path: cli.path } : { type: 'cached-download' },
      namespace,
      ip: options.ip ?? '127.0.0.1',
      port: options.port,
      dbFilename: options.dbFilename,
      ui: options.uiPort !== undefined,
      uiPort: options.uiPort,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      log: { format: 'json', level: 'error' },
    },
  });
  return { env, address: env.address, namespace, shutdown: () => env.teardown() };
}
