// Composes the running service from configuration: database (migrated), Temporal, the sync worker and
// the webhook server, by ROLE. DATA_DIR is created only by what needs it (the embedded database, the
// launched dev server, a generated secrets key), so the split roles run on a read-only filesystem
// (docs/production.md). `stop()` shuts it down in the safe order: stop taking requests (drain
// HTTP), let the worker finish its tasks, then close Temporal (and the dev server) and the database.
import type { FastifyInstance } from 'fastify';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { adminSocketPath, serveAdminSocket } from './cli/admin-socket';
import './cli/commands';
import { ConfigError, type Config } from './config';
import { openDatabase, type DatabaseHandle } from './db/client';
import { migrateDatabase } from './db/migrate';
import { guardPostgresJsNullSocketWrite } from './db/postgres-js-guard';
import { buildApp, requestSerializers } from './http/app';
import { createMetrics } from './http/metrics';
import { CallCounter } from './economic';
import { createWebhookPipeline, type WebhookPipeline } from './ingest/pipeline';
import { REDACT_PATHS, type Logger } from './logger';
import { createSecretBox, loadSecretsKey } from './secrets/secret-box';
import { connectTemporal, type TemporalHandles } from './temporal/connect';
import { ensureAllReconcileSchedules, ensureReconcileSchedule } from './temporal/reconcile-schedule';
import { tenants } from './db/schema';
import { eq } from 'drizzle-orm';
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
  installTemporalLogger(log);
  guardPostgresJsNullSocketWrite(log);

  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, maxConnections: config.databasePoolSize });
  await migrateDatabase(database);
  log.info({ database: database.kind }, 'database ready, migrations applied');

  const runsWorker = config.role !== 'api';
  const runsApi = config.role !== 'worker';
  const temporal = await connectTemporal(config, log, { worker: runsWorker });
  const metrics = createMetrics();
  const secretBox = createSecretBox(loadSecretsKey(config.secretsKey, config.dataDir));
  const callCounter = new CallCounter((tenant, endpoint) => metrics.economicCalls.inc({ tenant, endpoint }));

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
  let pipeline: WebhookPipeline | undefined;
  if (runsApi) {
    pipeline = createWebhookPipeline({
      db: database.db,
      client: temporal.client,
      taskQueue: config.taskQueue,
      secretBox,
      // A tenant's first grant makes it reconcilable: give it its schedule now, not at the next start.
      onNewGrant: async (tenantId) => {
        const [tenant] = await database.db.select({ id: tenants.id, name: tenants.name }).from(tenants).where(eq(tenants.id, tenantId));
        if (tenant) await ensureReconcileSchedule(temporal.client, config.taskQueue, tenant, config);
      },
      metrics,
      log,
      rateLimitPerSecond: config.rateLimitPerSecond,
      rateLimitBurst: config.rateLimitBurst,
    });
    app = await buildApp({
      register: pipeline.register,
      metrics,
      logger: { level: config.logLevel, serializers: requestSerializers, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
      probes: [
        { name: 'postgres', check: () => database.ping() },
        { name: 'temporal', check: async () => void (await temporal.connection.healthService.check({})) },
      ],
    });
    await app.listen({ port: config.port, host: config.host });
    httpUrl = `http://localhost:${config.port}`;
    // Hands events queued while Temporal was unreachable (by this or an earlier run) to Temporal.
    pipeline.start();
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
      // After HTTP is drained: no new events; relay stops, buffered sync_events rows are written.
      await pipeline?.stop();
      await stopAdminSocket?.();
      if (worker && worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun?.catch(() => {});
      await temporal.close();
      await database.close();
    },
  };
}
