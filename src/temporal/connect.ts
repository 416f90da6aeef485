// Connects to Temporal: the server at TEMPORAL_ADDRESS, or a local dev server launched here (state
// under DATA_DIR, Web UI on TEMPORAL_UI_PORT) when none is configured.
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { startLocalTemporal, type LocalTemporal } from './dev-server';
import { ensureSearchAttributes } from './register-search-attributes';

export interface TemporalHandles {
  address: string;
  namespace: string;
  /** On the worker's native connection when this process runs a worker, else on `connection`. */
  client: Client;
  /** The lazy gRPC connection: the API role's client, and the readiness probe in every role. */
  connection: Connection;
  /** The worker's connection; opened only when this process runs the worker. */
  nativeConnection?: NativeConnection;
  /** Web UI address when this process launched the dev server. */
  uiUrl?: string;
  close(): Promise<void>;
}

export const LOCAL_TEMPORAL_PORT = 7233;

export async function connectTemporal(config: Config, log: Logger, options: { worker: boolean }): Promise<TemporalHandles> {
  let local: LocalTemporal | undefined;
  let address = config.temporalAddress;
  if (!address) {
    log.info({ dataDir: config.dataDir }, 'TEMPORAL_ADDRESS not set: launching a local Temporal dev server');
    local = await startLocalTemporal({
      namespace: config.temporalNamespace,
      dbFilename: path.join(config.dataDir, 'temporal.sqlite'),
      port: LOCAL_TEMPORAL_PORT,
      uiPort: config.temporalUiPort,
    });
    address = local.address;
  }

  // Lazy: the webhook server must start (and fall back to its inbox) even while Temporal is down.
  const connection = Connection.lazy({ address });

  let nativeConnection: NativeConnection | undefined;
  if (options.worker) {
    nativeConnection = await connectWithRetry(() => NativeConnection.connect({ address }), log, address);
    // Registering needs a reachable server; the API alone can run without it.
    if (!local) await ensureSearchAttributes(connection, config.temporalNamespace);
  } else if (!local) {
    ensureSearchAttributes(connection, config.temporalNamespace).catch((err: unknown) =>
      log.warn({ err: (err as Error).message }, 'could not register search attributes yet (Temporal unreachable)'),
    );
  }

  // A process that runs a worker is connected already, so its client (the webhooks' signals, the inbox
  // relay, reconciliation's notifications, the schedules) uses the worker's native connection: its gRPC
  // runs in the SDK core's threads, not on this event loop, which then answers webhooks sooner
  // (docs/benchmarks.md, "Burst, measured later"). The API-only role keeps the lazy connection.
  const client = new Client({ connection: nativeConnection ?? connection, namespace: config.temporalNamespace });

  return {
    address,
    namespace: config.temporalNamespace,
    client,
    connection,
    nativeConnection,
    uiUrl: local ? `http://localhost:${config.temporalUiPort}` : undefined,
    async close() {
      await nativeConnection?.close();
      await connection.close();
      await local?.shutdown();
    },
  };
}

async function connectWithRetry<T>(connect: () => Promise<T>, log: Logger, address: string): Promise<T> {
  let delay = 1000;
  for (;;) {
    try {
      return await connect();
    } catch (err) {
      log.warn({ address, retryInMs: delay, err: (err as Error).message }, 'Temporal unreachable; retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }
}
