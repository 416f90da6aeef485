// A real Temporal dev server for a test file (the CLI resolved by src/temporal/cli-binary.ts), with the
// search attributes of docs/temporal.md registered, plus a worker factory over the real activities.
import { randomBytes } from 'node:crypto';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { startLocalTemporal, type LocalTemporal } from '../../src/temporal/dev-server';
import { createSyncWorker } from '../../src/worker';

// Worker state changes at INFO would drown the test output.
Runtime.install({ logger: new DefaultLogger('WARN') });

export async function startTestTemporal(): Promise<LocalTemporal> {
  return startLocalTemporal();
}

export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function startTestWorker(temporal: LocalTemporal, deps: ActivityDeps, taskQueue: string): Promise<{ worker: Worker; running: Promise<void>; stop(): Promise<void> }> {
  const worker = await createSyncWorker({
    connection: temporal.env.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    activities: createActivities(deps),
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
