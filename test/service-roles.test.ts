// The service split by role (docs/configuration.md: ROLE, METRICS_PORT) against a real Temporal dev
// server, a real Postgres and the fake e-conomic over HTTP: a ROLE=api and a ROLE=worker process (here
// two compositions in one test process), each with its internal operations port. The webhook port serves
// the webhook and health only; every role serves /metrics and health on METRICS_PORT, the worker's with
// its e-conomic calls. And the files that hold secrets: DATA_DIR 0700, the admin socket 0600, whatever
// the umask.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminSocketPath, forwardCommand, serveAdminSocket } from '../src/cli/admin-socket';
import { loadConfig, loadServiceConfig } from '../src/config';
import { loadSecretsKey } from '../src/secrets/secret-box';
import { startService, type RunningService } from '../src/service';
import { ensurePrivateDirectory } from '../src/util/private-dir';
import { startFakeEconomic, type FakeEconomic } from './fake-economic';
import { createApiKey } from './helpers/api-keys';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { startTestTemporal, uniqueTaskQueue, type TestTemporal } from './helpers/temporal';
import { registerSecret, testLogger } from './helpers/test-logs';
import { waitFor } from './helpers/wait';

let temporal: TestTemporal;
let database: TestDatabase;
let fake: FakeEconomic;
let api: RunningService;
let worker: RunningService;

before(async () => {
  [temporal, database, fake] = await Promise.all([startTestTemporal(), createTestDatabase(), startFakeEconomic()]);
  const shared = {
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('roles'),
    ECONOMIC_REST_URL: fake.restUrl,
    ECONOMIC_PROJECTS_URL: fake.projectsUrl,
    ECONOMIC_APP_SECRET_TOKEN: fake.appSecretToken,
    SECRETS_KEY: randomBytes(32).toString('base64'),
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'economic-sync-roles-')),
  };
  api = await startService(loadServiceConfig({ ...shared, ROLE: 'api' }), testLogger('role-api').log);
  worker = await startService(loadServiceConfig({ ...shared, ROLE: 'worker' }), testLogger('role-worker').log);
});

after(async () => {
  await api?.stop();
  await worker?.stop();
  await Promise.allSettled([temporal?.shutdown(), database?.drop(), fake?.close()]);
});

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string; allow: string | null }> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.text(), allow: response.headers.get('allow') };
}

describe('operations surfaces per role', () => {
  test('the webhook port serves the webhook and health, never /metrics', async () => {
    assert.ok(api.httpUrl);
    assert.notEqual(api.httpUrl, api.metricsUrl);
    const metrics = await get(`${api.httpUrl}/metrics`);
    assert.equal(metrics.status, 404);
    assert.deepEqual(Object.keys(JSON.parse(metrics.body) as object).sort(), ['error', 'message']);
    assert.equal((await get(`${api.httpUrl}/healthz`)).status, 200);
    const ready = await get(`${api.httpUrl}/readyz`);
    assert.equal(ready.status, 200, ready.body);
    assert.deepEqual(JSON.parse(ready.body), { status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });
  });

  test('ROLE=worker has no webhook port, and serves /metrics, /healthz and /readyz (with its worker) on METRICS_PORT', async () => {
    assert.equal(worker.app, undefined);
    assert.equal(worker.httpUrl, undefined);
    assert.equal((await get(`${worker.metricsUrl}/healthz`)).status, 200);
    const ready = await waitFor('the worker ready', async () => {
      const answer = await get(`${worker.metricsUrl}/readyz`);
      return answer.status === 200 ? answer : undefined;
    });
    assert.deepEqual(JSON.parse(ready.body), { status: 'ready', checks: { postgres: 'ok', temporal: 'ok', worker: 'ok' } });
    const metrics = await get(`${worker.metricsUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /# TYPE economic_sync_economic_api_calls_total counter/);
    assert.match(metrics.body, /economic_sync_process_resident_memory_bytes \d+/);
    const post = await get(`${worker.metricsUrl}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.allow, 'GET, HEAD');
    assert.equal((await get(`${worker.metricsUrl}/?APIKey=x`, { method: 'POST' })).status, 404, 'no webhook on the operations port');
  });

  test('a webhook through the api process is synced by the worker process; each process\'s metrics count its own part', async () => {
    const grant = `grant-roles-${randomBytes(8).toString('hex')}`;
    const agreement = fake.addAgreement({ grantToken: grant });
    const customer = agreement.upsertCustomer({ name: 'Rollekunden', currency: 'DKK' });
    const order = agreement.createOrder({ customerNumber: customer, lines: [{ description: 'Time', quantity: 1, unitNetPrice: 100 }] });
    const { key } = await createApiKey(api.database.db, { tenant: 'roles' });
    const response = await fetch(`${api.httpUrl}/?APIKey=${key}&APISource=eConomicOrder`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eConomicAPIKey: grant, number: String(order) }),
    });
    assert.equal(response.status, 202);
    const { workflowId } = (await response.json()) as { workflowId: string };
    await temporal.env.client.workflow.getHandle(workflowId).result();

    const workerMetrics = (await get(`${worker.metricsUrl}/metrics`)).body;
    assert.match(workerMetrics, /economic_sync_economic_api_calls_total\{tenant="roles",endpoint="\/orders\/drafts\/\{n\}"\} 1/);
    assert.doesNotMatch(workerMetrics, /economic_sync_webhook_events_total\{/, 'the worker takes no webhooks');
    const apiMetrics = (await get(`${api.metricsUrl}/metrics`)).body;
    assert.match(apiMetrics, /economic_sync_webhook_events_total\{source="eConomicOrder",outcome="signalled"\} 1/);
    assert.doesNotMatch(apiMetrics, /economic_sync_economic_api_calls_total\{/, 'the api process calls no e-conomic');
  });
});

describe('files that hold secrets', () => {
  test('DATA_DIR is 0700, the generated secrets key 0600 and the admin socket 0600, under umask 000', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'economic-sync-modes-'));
    const mode = (file: string) => statSync(file).mode & 0o777;
    const previous = process.umask(0);
    try {
      const dataDir = path.join(root, 'new', 'data');
      assert.deepEqual(ensurePrivateDirectory(dataDir), { created: true, tightened: false, open: false });
      assert.equal(mode(dataDir), 0o700);

      const loose = path.join(root, 'loose');
      mkdirSync(loose, { mode: 0o777 });
      assert.equal(mode(loose), 0o777);
      assert.deepEqual(ensurePrivateDirectory(loose), { created: false, tightened: true, open: false });
      assert.equal(mode(loose), 0o700);

      const secretsKey = loadSecretsKey(undefined, path.join(root, 'keyed'));
      registerSecret('secrets-key', secretsKey.toString('base64'));
      assert.equal(mode(path.join(root, 'keyed')), 0o700);
      assert.equal(mode(path.join(root, 'keyed', 'secrets.key')), 0o600);

      const socket = adminSocketPath(dataDir);
      const stop = await serveAdminSocket({ config: loadConfig({}), db: database.db, temporal: () => Promise.reject(new Error('not needed')) }, socket);
      try {
        assert.equal(mode(socket), 0o600);
        // The umask is the process's own again right after: a file made now is 0666 under umask 000.
        writeFileSync(path.join(root, 'probe'), '');
        assert.equal(mode(path.join(root, 'probe')), 0o666);
        // Its owner still reaches it.
        const listed = await forwardCommand(socket, 'access list', {});
        assert.ok(listed && typeof listed.stdout === 'string');
      } finally {
        await stop();
      }
    } finally {
      process.umask(previous);
    }
  });
});
