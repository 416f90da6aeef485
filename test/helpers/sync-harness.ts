// Everything a sync test needs, all real but e-conomic: a Temporal dev server, a fresh Postgres
// database, the fake e-conomic over HTTP, and a worker running the real workflows and activities. The
// fake's clock follows the real one, as e-conomic's does: reconciliation's watermarks are taken from it.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { recordCandidate } from '../../src/access/grants';
import { tenants } from '../../src/db/schema';
import { CallCounter } from '../../src/economic';
import { createSecretBox, type SecretBox } from '../../src/secrets/secret-box';
import { RECONCILE_ACTIVITY_SLOTS } from '../../src/worker';
import type { EntityKind } from '../../src/shared/entities';
import { entityChange, type EventSource } from '../../src/shared/sync-signals';
import { entityWorkflowsOn, signalEntityChange } from '../../src/temporal/signal-entity';
import type { ActivityDeps } from '../../activities';
import type { entitySyncWorkflow } from '../../workflows/entity-sync';
import { startFakeEconomic, type FakeAgreement, type FakeEconomic } from '../fake-economic';
import { createTestDatabase, type TestDatabase } from './database';
import { startTestTemporal, startTestWorker, uniqueTaskQueue, type TestTemporal } from './temporal';
import type { WorkerProcessEnv } from './worker-process';

export interface TestTenant {
  id: number;
  name: string;
  grantToken: string;
  agreement: FakeAgreement;
}

export interface SyncHarness {
  /** The secret box's key, for worker processes that must decrypt the same grants. */
  secretsKeyHex: string;
  /** What a worker child process (./worker-process.ts) needs to join this harness's worker. */
  workerProcessEnv: WorkerProcessEnv;
  temporal: TestTemporal;
  database: TestDatabase;
  fake: FakeEconomic;
  secretBox: SecretBox;
  callCounter: CallCounter;
  taskQueue: string;
  /** Reconciliation's own task queue (`<taskQueue>-reconcile`, as RECONCILE_TASK_QUEUE defaults), polled by startWorker too. */
  reconcileTaskQueue: string;
  activityDeps: ActivityDeps;
  startWorker(): Promise<{ stop(): Promise<void> }>;
  createTenant(name: string): Promise<TestTenant>;
  /** Sends a change event the way the webhook does, and returns the entity workflow's handle. */
  signal(tenant: TestTenant, kind: EntityKind, number: number, extra?: { oldNumber?: number; source?: EventSource; stateHint?: 'drafts' | 'sent' | 'archived'; receivedAt?: Date }): Promise<WorkflowHandle<typeof entitySyncWorkflow>>;
  close(): Promise<void>;
}

export async function startSyncHarness(options: { clientTimeoutMs?: number } = {}): Promise<SyncHarness> {
  const [temporal, database, fake] = await Promise.all([startTestTemporal(), createTestDatabase(), startFakeEconomic({ logCalls: true, clockStart: 'wall' })]);
  const secretsKey = randomBytes(32);
  const secretBox = createSecretBox(secretsKey);
  const callCounter = new CallCounter();
  const taskQueue = uniqueTaskQueue('sync');
  const activityDeps: ActivityDeps = {
    db: database.db,
    secretBox,
    callCounter,
    economic: { restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: fake.appSecretToken, timeoutMs: options.clientTimeoutMs ?? 2000 },
    entities: entityWorkflowsOn(temporal.env.client, taskQueue),
  };
  const workers: Array<{ stop(): Promise<void> }> = [];
  const secretsKeyHex = secretsKey.toString('hex');
  return {
    secretsKeyHex,
    workerProcessEnv: {
      temporalAddress: temporal.address,
      namespace: temporal.namespace,
      taskQueue,
      databaseUrl: database.url,
      restUrl: fake.restUrl,
      projectsUrl: fake.projectsUrl,
      appSecretToken: fake.appSecretToken,
      secretsKeyHex,
    },
    temporal,
    database,
    fake,
    secretBox,
    callCounter,
    taskQueue,
    reconcileTaskQueue: `${taskQueue}-reconcile`,
    activityDeps,
    async startWorker() {
      // Both task queues, as the service's worker role polls them.
      const [worker, reconcileWorker] = await Promise.all([startTestWorker(temporal, activityDeps, taskQueue), startTestWorker(temporal, activityDeps, `${taskQueue}-reconcile`, RECONCILE_ACTIVITY_SLOTS)]);
      const both = { stop: () => Promise.all([worker.stop(), reconcileWorker.stop()]).then(() => undefined) };
      workers.push(both);
      return both;
    },
    async createTenant(name) {
      const grantToken = `grant-${randomBytes(12).toString('hex')}`;
      const agreement = fake.addAgreement({ grantToken, companyName: `${name} ApS` });
      const [row] = await database.db.insert(tenants).values({ name }).returning();
      if (!row) throw new Error('tenant not created');
      await recordCandidate(database.db, secretBox, row.id, grantToken);
      return { id: row.id, name, grantToken, agreement };
    },
    async signal(tenant, kind, number, extra = {}) {
      const change = entityChange(
        { tenantId: tenant.id, tenant: tenant.name, kind, number },
        { eventId: randomUUID(), source: extra.source ?? 'retry-failed', oldNumber: extra.oldNumber, stateHint: extra.stateHint, receivedAt: extra.receivedAt ?? new Date() },
      );
      await signalEntityChange(temporal.env.client, taskQueue, change);
      return temporal.env.client.workflow.getHandle<typeof entitySyncWorkflow>(change.workflowId);
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      if (process.env.RECORD_HISTORIES) await recordHistories(temporal, process.env.RECORD_HISTORIES);
      await Promise.allSettled([temporal.shutdown(), database.drop(), fake.close()]);
    },
  };
}

/**
 * Saves the histories of the closed workflows of this run as JSON (RECORD_HISTORIES=<prefix>), for the
 * replay test (test/replay.test.ts) that guards workflow determinism. One history per workflow type and
 * outcome shape is enough; names say what each covers.
 */
async function recordHistories(temporal: TestTemporal, prefix: string): Promise<void> {
  const dir = path.join(__dirname, '..', 'histories');
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  for await (const execution of temporal.env.client.workflow.list({ query: `ExecutionStatus != 'Running'` })) {
    // Entity workflows by kind (economic/<tenant>/<kind>/<n>), other workflows by type alone.
    const kind = execution.workflowId.startsWith('economic/') ? execution.workflowId.split('/')[2] : 'run';
    const shape = `${execution.type}-${kind}-${execution.status.name.toLowerCase()}`;
    if (seen.has(shape)) continue;
    seen.add(shape);
    const history = await temporal.env.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    writeFileSync(path.join(dir, `${prefix}-${shape}.json`), JSON.stringify(history));
  }
}
