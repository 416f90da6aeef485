// Everything a sync test needs, all real but e-conomic: a Temporal dev server, a fresh Postgres
// database, the fake e-conomic over HTTP, and a worker running the real workflows and activities.
import { randomBytes, randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { storeGrant } from '../../src/access/grants';
import { tenants } from '../../src/db/schema';
import { CallCounter } from '../../src/economic';
import { createSecretBox, type SecretBox } from '../../src/secrets/secret-box';
import { entityWorkflowId, type EntityKind } from '../../src/shared/entities';
import type { LocalTemporal } from '../../src/temporal/dev-server';
import { signalEntityChange } from '../../src/temporal/signal-entity';
import type { ActivityDeps } from '../../activities';
import type { entitySyncWorkflow } from '../../workflows/entity-sync';
import { startFakeEconomic, type FakeAgreement, type FakeEconomic } from '../fake-economic';
import { createTestDatabase, type TestDatabase } from './database';
import { startTestTemporal, startTestWorker, uniqueTaskQueue } from './temporal';

export interface TestTenant {
  id: number;
  name: string;
  grantToken: string;
  agreement: FakeAgreement;
}

export interface SyncHarness {
  temporal: LocalTemporal;
  database: TestDatabase;
  fake: FakeEconomic;
  secretBox: SecretBox;
  callCounter: CallCounter;
  taskQueue: string;
  activityDeps: ActivityDeps;
  startWorker(): Promise<{ stop(): Promise<void> }>;
  createTenant(name: string): Promise<TestTenant>;
  /** Sends a change event the way the webhook does, and returns the entity workflow's handle. */
  signal(tenant: TestTenant, kind: EntityKind, number: number, extra?: { oldNumber?: number; source?: string }): Promise<WorkflowHandle<typeof entitySyncWorkflow>>;
  close(): Promise<void>;
}

export async function startSyncHarness(options: { clientTimeoutMs?: number } = {}): Promise<SyncHarness> {
  const [temporal, database, fake] = await Promise.all([startTestTemporal(), createTestDatabase(), startFakeEconomic({ logCalls: true })]);
  const secretBox = createSecretBox(randomBytes(32));
  const callCounter = new CallCounter();
  const taskQueue = uniqueTaskQueue('sync');
  const activityDeps: ActivityDeps = {
    db: database.db,
    secretBox,
    callCounter,
    economic: { restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: fake.appSecretToken, timeoutMs: options.clientTimeoutMs ?? 2000 },
    temporal: { client: temporal.env.client, taskQueue },
  };
  const workers: Array<{ stop(): Promise<void> }> = [];
  return {
    temporal,
    database,
    fake,
    secretBox,
    callCounter,
    taskQueue,
    activityDeps,
    async startWorker() {
      const worker = await startTestWorker(temporal, activityDeps, taskQueue);
      workers.push(worker);
      return worker;
    },
    async createTenant(name) {
      const grantToken = `grant-${randomBytes(12).toString('hex')}`;
      const agreement = fake.addAgreement({ grantToken, companyName: `${name} ApS` });
      const [row] = await database.db.insert(tenants).values({ name }).returning();
      if (!row) throw new Error('tenant not created');
      await storeGrant(database.db, secretBox, row.id, grantToken);
      return { id: row.id, name, grantToken, agreement };
    },
    async signal(tenant, kind, number, extra = {}) {
      await signalEntityChange(temporal.env.client, taskQueue, {
        tenantId: tenant.id,
        tenant: tenant.name,
        kind,
        number,
        event: { eventId: randomUUID(), source: extra.source ?? 'test', oldNumber: extra.oldNumber, receivedAt: new Date().toISOString() },
      });
      return temporal.env.client.workflow.getHandle<typeof entitySyncWorkflow>(entityWorkflowId(tenant.name, kind, number));
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.allSettled([temporal.shutdown(), database.drop(), fake.close()]);
    },
  };
}

/** Polls until `check` returns a value (not undefined), failing after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 25;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 500);
  }
}
