// Entry point of the child-process worker (see worker-process.ts).
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { openDatabase } from '../../src/db/client';
import { guardPostgresJsNullSocketWrite } from '../../src/db/postgres-js-guard';
import { createSecretBox } from '../../src/secrets/secret-box';
import { createSyncWorker } from '../../src/worker';
import type { WorkerProcessEnv } from './worker-process';

async function main(): Promise<void> {
  const env = JSON.parse(process.env.WORKER_ENV ?? '{}') as WorkerProcessEnv;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  guardPostgresJsNullSocketWrite();
  const database = await openDatabase({ databaseUrl: env.databaseUrl, dataDir: '/nonexistent' });
  const connection = await NativeConnection.connect({ address: env.temporalAddress });
  const worker = await createSyncWorker({
    connection,
    namespace: env.namespace,
    taskQueue: env.taskQueue,
    activities: createActivities({
      db: database.db,
      secretBox: createSecretBox(Buffer.from(env.secretsKeyHex, 'hex')),
      economic: { restUrl: env.restUrl, projectsUrl: env.projectsUrl, appSecretToken: env.appSecretToken, timeoutMs: env.clientTimeoutMs },
    }),
  });
  process.on('SIGTERM', () => worker.shutdown());
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await connection.close();
  await database.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
