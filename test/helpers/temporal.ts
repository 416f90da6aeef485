// A real Temporal dev server for a test file, launched as the service launches it (src/temporal/dev-server.ts,
// the CLI resolved by src/temporal/cli-binary.ts, the search attributes of docs/temporal.md registered),
// with a client and a worker connection to it, plus a worker factory over the real activities.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { startLocalTemporal, type LocalTemporal } from '../../src/temporal/dev-server';
import { createSyncWorker } from '../../src/worker';

// Worker state changes at INFO would drown the test output.
Runtime.install({ logger: new DefaultLogger('WARN') });

export interface TestTemporal extends LocalTemporal {
  env: { client: Client; connection: Connection; nativeConnection: NativeConnection };
}

export async function startTestTemporal(): Promise<TestTemporal> {
  const server = await startLocalTemporal();
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  return {
    ...server,
    env: { client: new Client({ connection, namespace: server.namespace }), connection, nativeConnection },
    async shutdown() {
      await nativeConnection.close();
      await connection.close();
      await server.shutdown();
    },
  };
}

export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function startTestWorker(
  temporal: TestTemporal,
  deps: ActivityDeps,
  taskQueue: string,
  slots?: number,
): Promise<{ worker: Worker; running: Promise<void>; stop(): Promise<void> }> {
  const worker = await createSyncWorker({
    connection: temporal.env.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    activities: createActivities(deps),
    ...(slots === undefined ? {} : { maxConcurrentActivityTaskExecutions: slots }),
  });
  const running = worker.run();
  return {
    worker,
    running,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
