// Composes the running service from configuration: database (migrated), Temporal, the sync worker and
// the webhook server, by ROLE, plus the internal operations port (metrics, health) in every role.
// DATA_DIR is created (mode 0700) only when something embedded needs it (the embedded database, the
// launched dev server, a generated secrets key), so the split roles run on a read-only filesystem
// (docs/production.md). `stop()` shuts it down in the safe order: stop taking requests (drain HTTP), let
// the worker finish its tasks, then close Temporal (and the dev server) and the database.
import type { FastifyInstance } from 'fastify';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { adminSocketPath, serveAdminSocket } from './cli/admin-socket';
import { assertServiceConfig, ConfigError, usesDemoAppSecret, type Config } from './config';
import { openDatabase, type DatabaseHandle } from './db/client';
import { migrateDatabase } from './db/migrate';
import { guardPostgresJsNullSocketWrite } from './db/postgres-js-guard';
import { buildApp } from './http/app';
import { createReadiness, type Probe } from './http/health';
import { createMetrics } from './http/metrics';
import { buildOpsApp } from './http/ops-app';
import { createWebhookPipeline, type WebhookPipeline } from './http/webhook-pipeline';
import { LISTEN_BACKLOG } from './http/server';
import { CallCounter } from './economic';
import type { Logger } from './logger';
import { createSecretBox, loadSecretsKey } from './secrets/secret-box';
import { createChangeLog, startChangePruning } from './store/change-log';
import { connectTemporal, type TemporalHandles } from './temporal/connect';
import { ensureAllChangeDeliveries } from './temporal/change-delivery';
import { ensureAllReconcileSchedules, ensureReconcileSchedule } from './temporal/reconcile-schedule';
import { entityWorkflowsOn } from './temporal/signal-entity';
import { tenants } from './db/schema';
import { eq } from 'drizzle-orm';
import { installTemporalLogger } from './temporal/runtime-logger';
import { ensurePrivateDirectory } from './util/private-dir';
import { createSyncWorker, RECONCILE_ACTIVITY_SLOTS } from './worker';

export interface RunningService {
  httpUrl?: string;
  temporalUiUrl?: string;
  temporalAddress: string;
  database: DatabaseHandle;
  temporal: TemporalHandles;
  app?: FastifyInstance;
  /** The internal operations port: /metrics, /healthz, /readyz (every role). */
  opsApp: FastifyInstance;
  metricsUrl: string;
  worker?: Worker;
  stop(): Promise<void>;
}

export async function startService(config: Config, log: Logger): Promise<RunningService> {
  assertServiceConfig(config);
  if (usesDemoAppSecret(config)) {
    log.warn('ECONOMIC_APP_SECRET_TOKEN is not set: using e-conomic\'s public "demo" app secret, which reads only the demo agreement. Set your app\'s secret token for real agreements.');
  }
  if (!config.databaseUrl || !config.temporalAddress || !config.secretsKey) {
    const dataDir = ensurePrivateDirectory(config.dataDir);
    if (dataDir.tightened) log.warn({ dataDir: config.dataDir }, 'DATA_DIR was open to other users; set to mode 0700');
    if (dataDir.open) log.warn({ dataDir: config.dataDir }, 'DATA_DIR is open to other users and owned by another user; make it mode 0700');
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
  const callCounter = new CallCounter(
    (tenant, endpoint) => {
      metrics.economicCalls.inc({ tenant, endpoint });
      metrics.economicCallsInFlight.inc();
    },
    (endpoint, outcome, seconds) => {
      metrics.economicCallsInFlight.dec();
      metrics.economicCallSeconds.observe({ endpoint, outcome }, seconds);
    },
  );

  // The operations port comes up first, so that /healthz answers while the worker bundles its workflows.
  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  // Reconciliation polls its own task queue (docs/temporal.md): its workflows and listings never take
  // the slots webhook-driven entity syncs need, however many tenants reconcile at once.
  let reconcileWorker: Worker | undefined;
  let reconcileWorkerRun: Promise<void> | undefined;
  // The webhook port is ready when it can accept events; the operations port reports the whole process.
  const webhookProbes: Probe[] = [
    { name: 'postgres', check: () => database.ping() },
    { name: 'temporal', check: async () => void (await temporal.connection.healthService.check({})) },
  ];
  const workerProbe: Probe = {
    name: 'worker',
    check: async () => {
      const state = worker?.getState() ?? 'STARTING';
      if (state !== 'RUNNING') throw new Error(`worker ${state}`);
      const reconcileState = reconcileWorker?.getState() ?? 'STARTING';
      if (reconcileState !== 'RUNNING') throw new Error(`reconciliation worker ${reconcileState}`);
    },
  };
  const httpOptions = { log, trustProxy: config.trustProxy, timeouts: config.http };
  const opsApp = await buildOpsApp({ ...httpOptions, metrics, readiness: createReadiness(runsWorker ? [...webhookProbes, workerProbe] : webhookProbes, metrics) });
  await listenOn(opsApp, 'METRICS_PORT', config.metricsPort, config.metricsHost);
  const metricsUrl = `http://${urlHost(config.metricsHost)}:${listeningPort(opsApp)}`;

  let stopPruning: (() => void) | undefined;
  if (runsWorker && temporal.nativeConnection) {
    stopPruning = startChangePruning(
      createChangeLog(database.db),
      config.changesRetentionDays,
      (err) => log.warn({ err }, 'pruning the change feed failed; retried within the hour'),
      (count) => {
        if (count > 0) log.info({ count, retentionDays: config.changesRetentionDays }, 'change feed pruned');
      },
    );
    const activities = createActivities({
      db: database.db,
      secretBox,
      callCounter,
      onSyncCommitted: ({ kind, trigger, lagSeconds }) => metrics.syncLagSeconds.observe({ kind, trigger }, lagSeconds),
      entities: entityWorkflowsOn(temporal.client, config.taskQueue),
      economic: {
        restUrl: config.economicRestUrl,
        projectsUrl: config.economicProjectsUrl,
        appSecretToken: config.economicAppSecretToken,
        dailyCallBudget: config.economicDailyCallBudget,
      },
    });
    worker = await createSyncWorker({ connection: temporal.nativeConnection, namespace: temporal.namespace, taskQueue: config.taskQueue, activities });
    reconcileWorker = await createSyncWorker({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue: config.reconcileTaskQueue,
      activities,
      maxConcurrentActivityTaskExecutions: RECONCILE_ACTIVITY_SLOTS,
    });
    workerRun = worker.run();
    workerRun.catch((err: unknown) => log.error({ err }, 'worker stopped with an error'));
    reconcileWorkerRun = reconcileWorker.run();
    reconcileWorkerRun.catch((err: unknown) => log.error({ err }, 'reconciliation worker stopped with an error'));
    // Each tenant with credentials gets its reconciliation schedule `reconcile/<tenant>` (idempotent).
    try {
      const count = await ensureAllReconcileSchedules(temporal.client, config.reconcileTaskQueue, database.db, config);
      log.info({ tenants: count, every: config.reconcileIncrementalEvery, fullEvery: config.reconcileFullEvery }, 'reconciliation schedules ensured');
    } catch (err) {
      log.warn({ err }, 'could not ensure the reconciliation schedules; they are retried at the next start');
    }
    try {
      const count = await ensureAllChangeDeliveries(temporal.client, config.taskQueue, database.db, config);
      if (count > 0) log.info({ subscribers: count }, 'change-feed delivery workflows ensured');
    } catch (err) {
      log.warn({ err }, 'could not ensure the change-feed delivery workflows; they are retried at the next start');
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
        if (tenant) await ensureReconcileSchedule(temporal.client, config.reconcileTaskQueue, tenant, config);
      },
      metrics,
      log,
      limits: config.rateLimits,
    });
    app = await buildApp({ ...httpOptions, readiness: createReadiness(webhookProbes, metrics), register: pipeline.register });
    await listenOn(app, 'PORT', config.port, config.host);
    httpUrl = `http://${urlHost(config.host)}:${listeningPort(app)}`;
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
    opsApp,
    metricsUrl,
    worker,
    async stop() {
      await app?.close();
      // After HTTP is drained: no new events; relay stops, buffered sync_events rows are written.
      await pipeline?.stop();
      await stopAdminSocket?.();
      stopPruning?.();
      if (worker && worker.getState() === 'RUNNING') worker.shutdown();
      if (reconcileWorker && reconcileWorker.getState() === 'RUNNING') reconcileWorker.shutdown();
      await workerRun?.catch(() => {});
      await reconcileWorkerRun?.catch(() => {});
      await opsApp.close();
      await temporal.close();
      await database.close();
    },
  };
}

/** Listens, turning "port taken" and "address not here" into a one-line configuration error. */
async function listenOn(app: FastifyInstance, variable: string, port: number, host: string): Promise<void> {
  try {
    await app.listen({ port, host, backlog: LISTEN_BACKLOG });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`${variable} ${port} is already in use on ${host}`);
    if (code === 'EACCES') throw new ConfigError(`${variable} ${port} may not be opened by this user on ${host}`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`${variable}: ${host} is not an address of this machine`);
    throw err;
  }
}

/** The port a server actually listens on (PORT=0 picks a free one). */
function listeningPort(app: FastifyInstance): number {
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** How to reach a bound host from this machine: a wildcard bind is reached on localhost. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
