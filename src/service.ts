// Composes the running service from configuration: database (migrated), Temporal, the sync worker and
// the webhook server, by ROLE. `stop()` shuts it down in the safe order: stop taking requests (drain
// HTTP), let the worker finish its tasks, then close Temporal (and the dev server) and the database.
import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { adminSocketPath, serveAdminSocket } from './cli/admin-socket';
import './cli/commands';
import { ConfigError, type Config } from './config';
import { openDatabase, type DatabaseHandle } from './db/client';
import { migrateDatabase } from './db/migrate';
import { buildApp, requestSerializers } from './http/app';
import { createMetrics } from './http/metrics';
import { CallCounter } from './economic';
import { createSecretBox, loadSecretsKey } from './secrets/secret-box';
import type { Logger } from './logger';
import { connectTemporal, type TemporalHandles } from './temporal/connect';
import { ensureAllReconcileSchedules } from './temporal/reconcile-schedule';
import { installTemporalLogger } from './temporal/runtime-logger';
import { createSyncWorker } from './worker';

export interface RunningService {
  httpUrl?: string;
  temporalUiUrl?: string;
  temporalAddress: string;
  database: DatabaseHandle;
  temporal: TemporalHandles;
  app?: FastifyInstance;
  worker?: Worker;
  stop(): Promise<void>;
}

export async function startService(config: Config, log: Logger): Promise<RunningService> {
  if (config.role !== 'all' && !config.databaseUrl) {
    throw new ConfigError(`ROLE=${config.role} needs DATABASE_URL: the embedded database serves a single process (ROLE=all)`);
  }
  if (config.role !== 'all' && !config.temporalAddress) {
    throw new ConfigError(`ROLE=${config.role} needs TEMPORAL_ADDRESS: the local dev server is launched only with ROLE=all`);
  }
  mkdirSync(config.dataDir, { recursive: true });
  installTemporalLogger(log);

  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await migrateDatabase(database);
  log.info({ database: database.kind }, 'database ready, migrations applied');

  const runsWorker = config.role !== 'api';
  const runsApi = config.role !== 'worker';
  const temporal = await connectTemporal(config, log, { worker: runsWorker });
  const metrics = createMetrics();
  const secretBox = createSecretBox(loadSecretsKey(config.secretsKey, config.dataDir));
  const callCounter = new CallCounter();

  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  if (runsWorker && temporal.nativeConnection) {
    worker = await createSyncWorker({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue: config.taskQueue,
      activities: createActivities({
        db: database.db,
        secretBox,
        callCounter,
        temporal: { client: temporal.client, taskQueue: config.taskQueue },
        economic: { restUrl: config.economicRestUrl, projectsUrl: config.economicProjectsUrl, appSecretToken: config.economicAppSecretToken },
      }),
    });
    workerRun = worker.run();
    workerRun.catch((err: unknown) => log.error({ err }, 'worker stopped with an error'));
    // Each tenant with credentials gets its reconciliation schedule `reconcile/<tenant>` (idempotent).
    try {
      const count = await ensureAllReconcileSchedules(temporal.client, config.taskQueue, database.db, config);
      log.info({ tenants: count, every: config.reconcileIncrementalEvery, fullEvery: config.reconcileFullEvery }, 'reconciliation schedules ensured');
    } catch (err) {
      log.warn({ err }, 'could not ensure the reconciliation schedules; they are retried at the next start');
    }
  }

  // The embedded database is open in this process only: serve CLI commands for it (src/cli/admin-socket.ts).
  const stopAdminSocket =
    database.kind === 'pglite'
      ? await serveAdminSocket({ config, db: database.db, temporal: () => Promise.resolve(temporal.client) }, adminSocketPath(config.dataDir))
      : undefined;

  let app: FastifyInstance | undefined;
  let httpUrl: string | undefined;
  if (runsApi) {
    app = await buildApp({
      metrics,
      logger: { level: config.logLevel, serializers: requestSerializers },
      probes: [
        { name: 'postgres', check: () => database.ping() },
        { name: 'temporal', check: async () => void (await temporal.connection.healthService.check({})) },
      ],
    });
    await app.listen({ port: config.port, host: config.host });
    httpUrl = `http://localhost:${config.port}`;
  }

  return {
    httpUrl,
    temporalUiUrl: temporal.uiUrl,
    temporalAddress: temporal.address,
    database,
    temporal,
    app,
    worker,
    async stop() {
      await app?.close();
      await stopAdminSocket?.();
      if (worker && worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun?.catch(() => {});
      await temporal.close();
      await database.close();
    },
  };
}
