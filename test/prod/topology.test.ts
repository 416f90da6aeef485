// The production topology (`npm run test:prod`, after `npm run build`): the COMPILED service on the Node LTS
// of the image, as two ROLE=api and two ROLE=worker processes, against a real Temporal server on Postgres
// provisioned by scripts/temporal-server.ts into fresh databases, and a real Postgres read model that the
// processes migrate themselves. Webhooks from three tenants are spread over both API processes (a load
// balancer's round robin, which retries a refused connection on the other one); mid-stream one worker and
// one API process are SIGKILLed and restarted. At the end every acknowledged (202) change is in Postgres as
// the fake e-conomic holds it, each tenant has its reconciliation schedule and a triggered run catches a
// change no webhook announced, the Temporal visibility API finds the syncs by their search attributes, and
// SIGTERM stops every process cleanly without DATA_DIR ever being created.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readlinkSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { compareWithFake, type DocKind, type EntityRef } from '../../bench/lib/verify';
import { openDatabase, queryRows, type DatabaseHandle } from '../../src/db/client';
import type { ApiSource } from '../../src/shared/entities';
import { EconomicNumber, EconomicSource, EconomicTenant } from '../../src/shared/search-attributes';
import { freePort } from '../../src/temporal/managed-process';
import { PROJECT_ROOT } from '../../src/project-root';
import { startFakeEconomic, type FakeAgreement, type FakeEconomic } from '../fake-economic';
import { ADMIN_URL } from '../helpers/database';
import { resolveNodeLts } from '../helpers/node-lts';
import { apiReady, logPath, serviceProcess, workerReady, type ServiceProcess } from '../helpers/service-process';
import { startTemporalCluster, type TemporalCluster } from '../helpers/temporal-cluster';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);
const SOURCE: Record<DocKind, ApiSource> = { order: 'eConomicOrder', quote: 'eConomicOffer', 'draft-invoice': 'eConomicInvoiceDraft', 'booked-invoice': 'eConomicInvoicePosted' };
/** Webhooks per second of the stream, and how many in all. */
const RATE = Number(process.env.PROD_RATE ?? 20);
const WEBHOOKS = Number(process.env.PROD_WEBHOOKS ?? 480);
const TASK_QUEUE = 'economic-sync';

interface Tenant {
  name: string;
  id: number;
  key: string;
  grant: string;
  agreement: FakeAgreement;
  entities: EntityRef[];
}
interface Sent {
  tenant: Tenant;
  ref: EntityRef;
  status: number;
  api: string;
}

let cluster: TemporalCluster;
let fake: FakeEconomic;
let readModel: DatabaseHandle;
let readModelName: string;
let connection: Connection;
let client: Client;
let node: { path: string; version: string };
let workDir: string;
let dataDir: string;
const apis: ServiceProcess[] = [];
const workers: ServiceProcess[] = [];
const tenants: Tenant[] = [];
const sent: Sent[] = [];
const down = new Set<ServiceProcess>();

before(async () => {
  assert.ok(existsSync(path.join(PROJECT_ROOT, 'dist', 'src', 'main.js')), 'run `npm run build` first (npm run test:prod does)');
  workDir = mkdtempSync(path.join(os.tmpdir(), 'economic-sync-prod-'));
  // The processes' DATA_DIR: nothing embedded is used, so it must never be created.
  dataDir = path.join(workDir, 'data-never-created');
  [cluster, fake, node] = await Promise.all([startTemporalCluster(), startFakeEconomic({ logCalls: false }), resolveNodeLts()]);
  console.log(`Temporal server on Postgres at ${cluster.address}, brought up with:\n  ${cluster.commands.join('\n  ')}\nservice processes on Node ${node.version}`);

  readModelName = `es_prod_${randomBytes(5).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${readModelName}"`).finally(() => admin.end());
  const url = new URL(ADMIN_URL);
  url.pathname = `/${readModelName}`;
  connection = await Connection.connect({ address: cluster.address });
  client = new Client({ connection, namespace: cluster.namespace });

  const env = {
    HOST: '127.0.0.1',
    DATABASE_URL: url.toString(),
    TEMPORAL_ADDRESS: cluster.address,
    TEMPORAL_NAMESPACE: cluster.namespace,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    ECONOMIC_REST_URL: fake.restUrl,
    ECONOMIC_PROJECTS_URL: fake.projectsUrl,
    ECONOMIC_APP_SECRET_TOKEN: fake.appSecretToken,
    SECRETS_KEY: randomBytes(32).toString('base64'),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    // Reconciliation is triggered by the test; the interval only must not fire during it.
    RECONCILE_INCREMENTAL_EVERY: '1h',
  };
  for (const i of [1, 2]) {
    const port = await freePort();
    apis.push(serviceProcess({ name: `api-${i}`, role: 'api', node: node.path, env, port, logFile: logPath(workDir, `api-${i}`) }, apiReady(`http://127.0.0.1:${port}`)));
    workers.push(serviceProcess({ name: `worker-${i}`, role: 'worker', node: node.path, env, logFile: logPath(workDir, `worker-${i}`) }, workerReady(client, TASK_QUEUE)));
  }
  // All four at once: they race to migrate the empty read model (one wins the advisory lock).
  await Promise.all([...apis, ...workers].map((p) => p.start()));
  readModel = await openDatabase({ databaseUrl: url.toString(), dataDir: '/nonexistent', maxConnections: 4 });

  for (const name of ['acme', 'birk', 'carl']) tenants.push(await createTenant(name, env.DATABASE_URL));
});

after(async () => {
  await Promise.allSettled([...apis, ...workers].map((p) => p.stop(30_000)));
  await readModel?.close().catch(() => {});
  await connection?.close().catch(() => {});
  await cluster?.stop().catch(() => {});
  await fake?.close().catch(() => {});
  if (readModelName) {
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists "${readModelName}" with (force)`).finally(() => admin.end());
  }
});

/** An API key from the compiled CLI (bin/economic-sync.js runs dist/ when built), and the tenant's agreement. */
async function createTenant(name: string, databaseUrl: string): Promise<Tenant> {
  const { stdout } = await run(node.path, [path.join(PROJECT_ROOT, 'bin', 'economic-sync.js'), 'access', 'create', '--tenant', name], { env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' } });
  const key = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/im.exec(stdout)?.[0];
  assert.ok(key, `no key in: ${stdout}`);
  const [row] = await queryRows<{ id: number }>(readModel.db, sql`select id from tenants where name = ${name}`);
  assert.ok(row);
  const grant = `grant-${name}-${randomBytes(6).toString('hex')}`;
  const agreement = fake.addAgreement({ grantToken: grant, companyName: `${name} ApS` });
  const customers = Array.from({ length: 5 }, (_, i) => agreement.upsertCustomer({ name: `${name} kunde ${i}`, currency: 'DKK' }));
  const projects = customers.map((c, i) => agreement.upsertProject({ name: `${name} projekt ${i}`, customerNumber: c }));
  const entities: EntityRef[] = [];
  for (let i = 0; i < 8; i++) {
    const input = { customerNumber: customers[i % 5] as number, projectNumber: i % 3 === 0 ? undefined : projects[i % 5], lines: [{ quantity: 1, unitNetPrice: 100 }] };
    entities.push({ kind: 'order', number: agreement.createOrder(input) });
    entities.push({ kind: 'quote', number: agreement.createQuote(input) });
    entities.push({ kind: 'draft-invoice', number: agreement.createDraftInvoice(input) });
  }
  return { name, id: row.id, key, grant, agreement, entities };
}

/** Changes an entity in the fake, then sends its webhook through the "load balancer". */
async function sendOne(seq: number): Promise<void> {
  const tenant = tenants[seq % tenants.length] as Tenant;
  const ref = tenant.entities[(seq * 7919) % tenant.entities.length] as EntityRef;
  const lines = Array.from({ length: 1 + (seq % 3) }, (_, l) => ({ description: `v${seq} l${l}`, quantity: 1 + l, unitNetPrice: 10 + (seq % 89) }));
  if (ref.kind === 'order') tenant.agreement.updateOrder(ref.number, { lines });
  else if (ref.kind === 'quote') tenant.agreement.updateQuote(ref.number, { lines });
  else tenant.agreement.updateDraftInvoice(ref.number, { lines });
  const first = apis[seq % apis.length] as ServiceProcess;
  const order = [first, ...apis.filter((a) => a !== first)].filter((a) => !down.has(a));
  let status = 0;
  let api = '';
  for (const target of order) {
    api = target.name;
    try {
      const response = await fetch(`${target.url}/?APIKey=${tenant.key}&APISource=${SOURCE[ref.kind]}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ eConomicAPIKey: tenant.grant, number: String(ref.number) }),
        signal: AbortSignal.timeout(15_000),
      });
      status = response.status;
      await response.arrayBuffer();
      break;
    } catch {
      status = 0; // refused or cut: a load balancer tries the next one
    }
  }
  sent.push({ tenant, ref, status, api });
}

/** Sends WEBHOOKS webhooks at RATE a second, at most 32 in flight; `at(n)` runs when n have been sent. */
async function stream(milestones: Map<number, () => Promise<void>>): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  const faults: Promise<void>[] = [];
  for (let seq = 0; seq < WEBHOOKS; seq++) {
    const milestone = milestones.get(seq);
    if (milestone) faults.push(milestone());
    while (inFlight.size >= 32) await Promise.race(inFlight);
    const p = sendOne(seq).finally(() => inFlight.delete(p));
    inFlight.add(p);
    await new Promise((resolve) => setTimeout(resolve, 1000 / RATE));
  }
  await Promise.all([...inFlight, ...faults]);
}

/** Per tenant, the entities whose latest change was acknowledged (otherwise the fake may rightly be ahead). */
function settled(tenant: Tenant): EntityRef[] {
  const last = new Map<string, Sent>();
  for (const s of sent) if (s.tenant === tenant) last.set(`${s.ref.kind}/${s.ref.number}`, s);
  return [...last.values()].filter((s) => s.status === 202).map((s) => s.ref);
}

async function caughtUp(): Promise<boolean> {
  const [queued] = await queryRows<{ n: number }>(readModel.db, sql`select count(*)::int as n from sync_events where outcome = 'queued'`);
  if ((queued?.n ?? 0) > 0) return false;
  for (const tenant of tenants) {
    const result = await compareWithFake(readModel.db, tenant.id, tenant.agreement, settled(tenant));
    if (result.missing.length > 0 || result.mismatched.length > 0) return false;
  }
  return true;
}

test('two API and two worker processes on Temporal-on-Postgres: one of each killed mid-stream, every acknowledged change synced', async () => {
  // Every process runs the image's Node, not the development one.
  for (const p of [...apis, ...workers]) assert.equal(readlinkSync(`/proc/${p.current().pid}/exe`), realpathSync(node.path), `${p.name} runs on ${node.version}`);

  const killAndRestart = (target: ServiceProcess, outageMs: number) => async () => {
    down.add(target);
    const { signal } = await target.kill();
    assert.equal(signal, 'SIGKILL');
    // A supervisor restarts it after a moment (an API process's outage is what the other one absorbs).
    await new Promise((resolve) => setTimeout(resolve, outageMs));
    await target.start();
    down.delete(target);
  };
  const [worker1, api2] = [workers[0] as ServiceProcess, apis[1] as ServiceProcess];
  await stream(new Map([[Math.round(WEBHOOKS / 4), killAndRestart(worker1, 0)], [Math.round(WEBHOOKS / 2), killAndRestart(api2, 3000)]]));

  const answers: Record<string, number> = {};
  for (const s of sent) answers[`${s.api} ${s.status}`] = (answers[`${s.api} ${s.status}`] ?? 0) + 1;
  console.log('answers by API process and status:', answers);
  assert.deepEqual(sent.filter((s) => s.status !== 202).map((s) => `${s.api}: ${s.status}`), [], 'every webhook acknowledged by one of the API processes');
  for (const api of apis) assert.ok(sent.some((s) => s.api === api.name), `${api.name} took webhooks`);

  await waitFor('every acknowledged change in Postgres as the fake holds it', () => caughtUp(), 240_000, 500).catch(async (err: unknown) => {
    for (const tenant of tenants) {
      const result = await compareWithFake(readModel.db, tenant.id, tenant.agreement, settled(tenant));
      console.log(tenant.name, { missing: result.missing.slice(0, 5), mismatched: result.mismatched.slice(0, 5) });
    }
    throw err;
  });
  for (const tenant of tenants) {
    const result = await compareWithFake(readModel.db, tenant.id, tenant.agreement, settled(tenant));
    assert.equal(result.present, settled(tenant).length, `${tenant.name}: every settled entity present`);
  }
});

test('each tenant has its reconciliation schedule, and a triggered run on this server catches a change no webhook announced', async () => {
  for (const tenant of tenants) {
    const described = await waitFor(`schedule reconcile/${tenant.name}`, () => client.schedule.getHandle(`reconcile/${tenant.name}`).describe().catch(() => undefined), 30_000);
    assert.equal(described.action.type, 'startWorkflow');
  }
  const tenant = tenants[0] as Tenant;
  const customer = tenant.agreement.upsertCustomer({ name: 'Ny kunde uden webhook', currency: 'EUR' });
  const missed: EntityRef = { kind: 'order', number: tenant.agreement.createOrder({ customerNumber: customer, lines: [{ description: 'missed', quantity: 3, unitNetPrice: 70 }] }) };

  const schedule = client.schedule.getHandle(`reconcile/${tenant.name}`);
  await schedule.trigger();
  const action = await waitFor('the triggered run', async () => (await schedule.describe()).info.recentActions.at(-1), 30_000);
  const workflowId = action.action.type === 'startWorkflow' ? action.action.workflow.workflowId : undefined;
  assert.ok(workflowId, 'the schedule started a workflow');
  await client.workflow.getHandle(workflowId).result();

  const result = await compareWithFake(readModel.db, tenant.id, tenant.agreement, [missed, ...settled(tenant)]);
  assert.deepEqual(result.missing, []);
  assert.deepEqual(result.mismatched, []);
});

test('the Temporal visibility API lists the syncs by EconomicTenant, EconomicSource and EconomicNumber', async () => {
  for (const tenant of tenants) {
    const expected = new Set(settled(tenant).map((ref) => `${SOURCE[ref.kind]}/${ref.number}`));
    const listed = await waitFor(`${tenant.name}'s syncs in visibility`, async () => {
      const found = new Set<string>();
      for await (const execution of client.workflow.list({ query: `EconomicTenant = "${tenant.name}" AND WorkflowType = "entitySyncWorkflow"` })) {
        const attributes = execution.typedSearchAttributes;
        assert.equal(attributes.get(EconomicTenant), tenant.name);
        const source = attributes.get(EconomicSource);
        const number = attributes.get(EconomicNumber);
        if (source && number !== undefined) found.add(`${source}/${number}`);
      }
      return [...expected].every((e) => found.has(e)) && found;
    }, 60_000, 500);
    assert.ok(listed.size >= expected.size);
  }
  // A query on one source and number finds exactly that entity's workflow.
  const tenant = tenants[1] as Tenant;
  const ref = settled(tenant)[0] as EntityRef;
  const count = await client.workflow.count(`EconomicTenant = "${tenant.name}" AND EconomicSource = "${SOURCE[ref.kind]}" AND EconomicNumber = ${ref.number}`);
  assert.ok(count.count >= 1);
});

test('SIGTERM stops every process cleanly (exit 0), and DATA_DIR was never created', async () => {
  const statuses = await Promise.all([...apis, ...workers].map(async (p) => ({ name: p.name, ...(await p.stop(60_000)) })));
  assert.deepEqual(statuses.filter((s) => s.code !== 0), [], 'every process drained and exited 0 on SIGTERM');
  assert.equal(existsSync(dataDir), false, 'no DATA_DIR in the split roles');
});
