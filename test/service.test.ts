// The composed service (src/service.ts, ROLE=all) against a real Temporal server and Postgres, with
// e-conomic faked over HTTP: it becomes ready, takes a webhook, syncs it, gives the tenant its
// reconciliation schedule on its first grant, and stops gracefully.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { createApiKey } from './helpers/api-keys';
import { loadConfig } from '../src/config';
import { economicOrders } from '../src/db/schema';
import { startService, type RunningService } from '../src/service';
import type { entitySyncWorkflow } from '../workflows/entity-sync';
import { startFakeEconomic, type FakeEconomic } from './fake-economic';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { startTestTemporal, uniqueTaskQueue, type TestTemporal } from './helpers/temporal';
import { testLogger } from './helpers/test-logs';
import { waitFor } from './helpers/wait';

let temporal: TestTemporal;
let database: TestDatabase;
let fake: FakeEconomic;
let service: RunningService;
let baseUrl: string;

before(async () => {
  [temporal, database, fake] = await Promise.all([startTestTemporal(), createTestDatabase(), startFakeEconomic()]);
  const config = loadConfig({
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('service'),
    ECONOMIC_REST_URL: fake.restUrl,
    ECONOMIC_PROJECTS_URL: fake.projectsUrl,
    ECONOMIC_APP_SECRET_TOKEN: fake.appSecretToken,
    SECRETS_KEY: randomBytes(32).toString('base64'),
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'economic-sync-')),
  });
  service = await startService(config, testLogger('service').log);
  const address = service.app?.server.address();
  assert.ok(address && typeof address === 'object');
  baseUrl = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  await service?.stop();
  await Promise.allSettled([temporal?.shutdown(), database?.drop(), fake?.close()]);
});

test('ready, a webhook synced to its row, and the tenant scheduled for reconciliation', async () => {
  assert.equal((await fetch(`${baseUrl}/healthz`)).status, 200);
  const ready = await fetch(`${baseUrl}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });

  const agreement = fake.addAgreement({ grantToken: 'grant-service-test' });
  const customer = agreement.upsertCustomer({ name: 'Servicekunden', currency: 'DKK' });
  const order = agreement.createOrder({ customerNumber: customer, lines: [{ description: 'Time', quantity: 1, unitNetPrice: 100 }] });
  const { key, tenantId } = await createApiKey(service.database.db, { tenant: 'servicetest' });

  const response = await fetch(`${baseUrl}/?APIKey=${key}&APISource=eConomicOrder`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ eConomicAPIKey: 'grant-service-test', number: String(order) }),
  });
  assert.equal(response.status, 202);
  const { workflowId } = (await response.json()) as { workflowId: string };
  assert.equal(workflowId, `economic/servicetest/order/${order}`);
  const result = await temporal.env.client.workflow.getHandle<typeof entitySyncWorkflow>(workflowId).result();
  assert.equal(result.lastOutcome, 'synced');
  const [row] = await service.database.db.select().from(economicOrders).where(eq(economicOrders.tenantId, tenantId));
  assert.equal(row?.orderNumber, order);

  // The tenant's first grant gave it its reconciliation schedule (created in the background).
  const schedule = temporal.env.client.schedule.getHandle('reconcile/servicetest');
  const described = await waitFor('the reconcile/servicetest schedule', () => schedule.describe().catch(() => undefined), 10_000);
  assert.equal(described.state.paused, false);
  // Reconciliation runs on its own task queue, which the service's worker polls too.
  assert.match(described.action.type === 'startWorkflow' ? described.action.taskQueue : '', /^service-[0-9a-f]+-reconcile$/);
  await schedule.trigger();
  // The schedule names its runs `reconcile/servicetest/scheduled-<time>`: find the triggered one.
  const started = await waitFor('the triggered reconciliation to start', async () => (await schedule.describe()).info.recentActions[0]?.action.workflow.workflowId, 30_000);
  const summary = (await temporal.env.client.workflow.getHandle(started).result()) as { tenant?: string };
  assert.equal(summary.tenant, 'servicetest');

  const metrics = await (await fetch(`${service.metricsUrl}/metrics`)).text();
  assert.match(metrics, /economic_sync_webhook_events_total\{[^}]*source="eConomicOrder"[^}]*\} 1/);
  assert.match(metrics, /economic_sync_economic_api_calls_total\{tenant="servicetest",endpoint="\/orders\/drafts\/\{n\}"\} 1/);
  // How that call ended and how long it took, and nothing left in flight once every sync is done.
  assert.match(metrics, /economic_sync_economic_api_call_seconds_count\{endpoint="\/orders\/drafts\/\{n\}",outcome="ok"\} 1\n/);
  assert.match(metrics, /\neconomic_sync_economic_api_calls_in_flight 0\n/);
  // The webhook's sync committed its order: how long after the webhook arrived.
  assert.match(metrics, /economic_sync_sync_lag_seconds_count\{kind="order",trigger="webhook"\} 1\n/);
});
