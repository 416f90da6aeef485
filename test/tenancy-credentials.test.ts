// Tenancy and credentials on the real stack (docs/webhook.md, "The grant and the agreement"): the real
// webhook app (two instances against one database where processes race), a real Temporal dev server with
// the real workflows and activities, real Postgres, and the fake e-conomic over HTTP, which counts calls per
// grant token. Every grant token is registered for the suite's no-secret-in-logs check.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { and, eq, sql } from 'drizzle-orm';
import { adoptVerifiedGrant, claimRecheck, loadGrant, RESEND_RECHECK_MIN_MS, unbindTenant } from '../src/access/grants';
import { runCommand } from '../src/cli/commands';
import type { CommandContext } from '../src/cli/context';
import { loadConfig } from '../src/config';
import { openDatabase, queryRows, type DatabaseHandle } from '../src/db/client';
import { economicCustomers, economicOrders, tenantCredentials, tenantKindAccess, tenants } from '../src/db/schema';
import type { ApiSource } from '../src/shared/entities';
import { RECONCILE_WORKFLOW_TYPE, type ReconcileSummary } from '../src/shared/reconcile';
import { createSecretBox } from '../src/secrets/secret-box';
import type { entitySyncWorkflow } from '../workflows/entity-sync';
import type { reconcileWorkflow } from '../workflows/reconcile';
import type { FakeAgreement } from './fake-economic';
import { createApiKey } from './helpers/api-keys';
import { startSyncHarness, type SyncHarness } from './helpers/sync-harness';
import { startWorkerProcess } from './helpers/worker-process';
import { registerSecret } from './helpers/test-logs';
import { waitFor } from './helpers/wait';
import { startTestWebhook, type TestWebhook } from './helpers/webhook';

let h: SyncHarness;
let api1: TestWebhook;
let api2: TestWebhook;
let ctx: CommandContext;

before(async () => {
  h = await startSyncHarness();
  await h.startWorker();
  const secretsKey = Buffer.from(h.secretsKeyHex, 'hex');
  const common = { db: h.database.db, client: h.temporal.env.client, taskQueue: h.taskQueue, secretsKey };
  // Two API instances, each with its own grant recorder (and its own in-memory cache), one database.
  [api1, api2] = await Promise.all([startTestWebhook(common), startTestWebhook(common)]);
  ctx = { config: loadConfig({}), db: h.database.db, temporal: () => Promise.resolve(h.temporal.env.client) };
});

after(async () => {
  await Promise.allSettled([api1?.close(), api2?.close()]);
  await h?.close();
});

const newToken = () => {
  const token = `grant-${randomBytes(12).toString('hex')}`;
  registerSecret('grant-token', token);
  return token;
};

interface Tenant {
  id: number;
  name: string;
  key: string;
}

async function tenantWithKey(name: string): Promise<Tenant> {
  const { key } = await createApiKey(h.database.db, { tenant: name });
  const [row] = await h.database.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, name));
  assert.ok(row);
  return { id: row.id, name, key };
}

/** Posts one webhook as e-conomic does and returns the entity workflow's handle. */
async function webhook(app: TestWebhook, t: Tenant, source: ApiSource, grant: string, number: number) {
  const response = await app.app.inject({
    method: 'POST',
    url: `/?APIKey=${t.key}&APISource=${source}`,
    headers: { 'content-type': 'application/json' },
    payload: { eConomicAPIKey: grant, number },
  });
  assert.equal(response.statusCode, 202, response.body);
  const { workflowId } = response.json<{ workflowId: string }>();
  return h.temporal.env.client.workflow.getHandle<typeof entitySyncWorkflow>(workflowId);
}

/** A validator: the workflow failed, and somewhere down its causes is a failure of this type. */
function causedBy(type: string) {
  return (err: unknown): boolean => {
    for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
      if (e.type === type) return true;
    }
    assert.fail(`expected a failure of type ${type}, got ${String(err)}`);
  };
}

async function failsWith(handle: { result(): Promise<unknown> }, type: string): Promise<void> {
  await assert.rejects(handle.result(), causedBy(type));
}

/** Calls the fake saw with this token other than GET /self: the data calls. */
function dataCalls(token: string): number {
  const calls = h.fake.calls(token);
  return calls.total - (calls.byEndpoint['/self'] ?? 0);
}

async function statusOf(t: Tenant): Promise<string> {
  return (await runCommand(ctx, 'status', { tenant: t.name })).stdout;
}

/** Everything of the tenant's read model that e-conomic data decides (not synced_at). */
async function readModel(tenantId: number): Promise<string> {
  const parts: string[] = [];
  for (const table of ['economic_customers', 'economic_projects', 'economic_orders', 'economic_quotes', 'economic_draft_invoices', 'economic_booked_invoices', 'economic_document_lines']) {
    const rows = await queryRows<{ r: string }>(
      h.database.db,
      sql`select (to_jsonb(t) - 'synced_at')::text as r from ${sql.identifier(table)} t where tenant_id = ${tenantId} order by 1`,
    );
    parts.push(`${table}:${rows.map((x) => x.r).join('\n')}`);
  }
  return parts.join('\n');
}

let reconcileRuns = 0;
function reconcile(t: Tenant, mode: 'full' | 'incremental'): Promise<ReconcileSummary> {
  reconcileRuns += 1;
  return h.temporal.env.client.workflow.execute<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    workflowId: `reconcile/${t.name}/test-${reconcileRuns}`,
    taskQueue: h.taskQueue,
    args: [{ tenantId: t.id, tenant: t.name, mode }],
  });
}

function seedOrders(a: FakeAgreement, customerName: string, count: number): { customer: number; orders: number[] } {
  const customer = a.upsertCustomer({ name: customerName, currency: 'DKK' });
  const orders = Array.from({ length: count }, () => a.createOrder({ customerNumber: customer, lines: [{ description: customerName, quantity: 1, unitNetPrice: 100 }] }));
  return { customer, orders };
}

describe('the agreement binding', () => {
  test("key A with agreement B's grant changes nothing of tenant A and makes no data call to B", async () => {
    const tokenA = newToken();
    const tokenB = newToken();
    const agreementA = h.fake.addAgreement({ grantToken: tokenA, companyName: 'A ApS' });
    const agreementB = h.fake.addAgreement({ grantToken: tokenB, companyName: 'B ApS' });
    const a = seedOrders(agreementA, 'Kunde hos A', 2);
    const b = seedOrders(agreementB, 'Kunde hos B', 4);
    const t = await tenantWithKey('binding-a');

    // The first grant binds the tenant to agreement A.
    assert.equal((await (await webhook(api1, t, 'eConomicOrder', tokenA, a.orders[0]!)).result()).lastOutcome, 'synced');
    assert.equal((await loadGrant(h.database.db, h.secretBox, t.id))?.agreementNumber, agreementA.agreementNumber);
    await reconcile(t, 'full');
    const before = await readModel(t.id);
    assert.match(before, /Kunde hos A/);

    // Someone holding key A sends B's grant, for numbers B has (and one A has too).
    for (const number of [...b.orders, a.orders[1]!]) {
      const handle = await webhook(number % 2 === 0 ? api1 : api2, t, 'eConomicOrder', tokenB, number);
      await handle.result();
    }
    await reconcile(t, 'full');

    assert.equal(dataCalls(tokenB), 0, `no data call to agreement B: ${JSON.stringify(h.fake.calls(tokenB))}`);
    assert.equal(h.fake.calls(tokenB).byEndpoint['/self'], 1, 'B was verified once, then remembered as refused');
    assert.equal(await readModel(t.id), before, "tenant A's read model is unchanged: nothing of B, nothing marked deleted");
    const grant = await loadGrant(h.database.db, h.secretBox, t.id);
    assert.equal(grant?.token, tokenA, 'the grant in use is still A');
    assert.equal(grant?.agreementNumber, agreementA.agreementNumber);
    assert.equal(grant?.status, 'ok');
    const status = await statusOf(t);
    assert.match(status, new RegExp(`${agreementA.agreementNumber}\\s+ok, refused grant of agreement ${agreementB.agreementNumber}`));
    assert.ok(!status.includes(tokenB) && !status.includes(tokenA));

    // access unbind releases it: the next grant that verifies binds anew (here B's, now legitimately).
    const unbound = await runCommand(ctx, 'access unbind', { tenant: t.name });
    assert.match(unbound.stdout, new RegExp(`Released tenant "binding-a" from e-conomic agreement ${agreementA.agreementNumber}`));
    assert.match(await statusOf(t), /binding-a\s+unbound\s+none/);
    const rebound = await webhook(api2, t, 'eConomicOrder', tokenB, b.orders[0]!);
    assert.equal((await rebound.result()).lastOutcome, 'synced');
    assert.equal((await loadGrant(h.database.db, h.secretBox, t.id))?.agreementNumber, agreementB.agreementNumber);
    assert.ok(dataCalls(tokenB) > 0);
    await assert.rejects(runCommand(ctx, 'access unbind', { tenant: 'no-such-tenant' }), /no tenant named "no-such-tenant"/);
  });

  test("a new token of A's own agreement heals a broken tenant and syncs what was refused meanwhile", async () => {
    const tokenA = newToken();
    const agreement = h.fake.addAgreement({ grantToken: tokenA });
    const { orders } = seedOrders(agreement, 'Heal ApS', 3);
    const t = await tenantWithKey('heal-new-token');
    assert.equal((await (await webhook(api1, t, 'eConomicOrder', tokenA, orders[0]!)).result()).lastOutcome, 'synced');

    h.fake.revokeGrant(tokenA);
    const refused = await webhook(api1, t, 'eConomicOrder', tokenA, orders[1]!);
    await failsWith(refused, 'EconomicCredentialsRejected');
    const callsAfterBreak = h.fake.calls(tokenA).total;
    // Broken: the next event, though it carries the same token again, makes no call at all (a resend
    // re-checks at most every RESEND_RECHECK_MIN_MS).
    await failsWith(await webhook(api2, t, 'eConomicOrder', tokenA, orders[2]!), 'CredentialsBroken');
    assert.equal(h.fake.calls(tokenA).total, callsAfterBreak, 'no e-conomic call while broken');
    assert.match(await statusOf(t), /heal-new-token\s+\d+\s+broken/);

    // The customer re-installs the app: a new token of the same agreement.
    const tokenA2 = newToken();
    h.fake.addGrantToken(tokenA, tokenA2);
    const healed = await webhook(api2, t, 'eConomicOrder', tokenA2, orders[0]!);
    await healed.result();
    const grant = await loadGrant(h.database.db, h.secretBox, t.id);
    assert.equal(grant?.token, tokenA2);
    assert.equal(grant?.status, 'ok');
    assert.equal(grant?.agreementNumber, agreement.agreementNumber);
    // The entities refused while broken are synced again, with nothing else sent.
    await waitFor('the refused orders synced after healing', async () => {
      const rows = await h.database.db.select({ n: economicOrders.orderNumber }).from(economicOrders).where(eq(economicOrders.tenantId, t.id));
      return rows.length === 3;
    });
    await waitFor('sync_state has no failure', async () => {
      const [row] = await queryRows<{ n: number }>(h.database.db, sql`select count(*)::int as n from sync_state where tenant_id = ${t.id} and last_outcome = 'failed'`);
      return row?.n === 0;
    });
    assert.equal(h.fake.calls(tokenA).total, callsAfterBreak, 'the revoked token was not used again');
  });

  test('a revoked-then-restored grant heals without a new token: sent again, or by the periodic re-check', async () => {
    const token = newToken();
    const agreement = h.fake.addAgreement({ grantToken: token });
    const { orders } = seedOrders(agreement, 'Restore ApS', 3);
    const t = await tenantWithKey('restored');
    assert.equal((await (await webhook(api1, t, 'eConomicOrder', token, orders[0]!)).result()).lastOutcome, 'synced');

    // Revoked, then restored in e-conomic; the same token comes again with the next webhook.
    h.fake.revokeGrant(token);
    await failsWith(await webhook(api2, t, 'eConomicOrder', token, orders[1]!), 'EconomicCredentialsRejected');
    const [broken] = await h.database.db.select().from(tenantCredentials).where(eq(tenantCredentials.tenantId, t.id));
    assert.equal(broken?.status, 'broken');
    assert.ok(broken?.nextCheckAt && broken.nextCheckAt.getTime() > Date.now(), 'the re-check is scheduled, not immediate');
    h.fake.restoreGrant(token);
    // The customer fixed the app; the token comes again more than RESEND_RECHECK_MIN_MS after the 401 (a
    // resend sooner waits for that: the heal test shows it makes no call). Time passing is written, not slept.
    await h.database.db
      .update(tenantCredentials)
      .set({ lastCheckAt: sql`now() - ${RESEND_RECHECK_MIN_MS + 1000}::bigint * interval '1 millisecond'` })
      .where(eq(tenantCredentials.tenantId, t.id));
    const again = await webhook(api1, t, 'eConomicOrder', token, orders[2]!);
    assert.equal((await again.result()).lastOutcome, 'synced');
    await waitFor('the refused order synced after the re-check', async () => {
      const [row] = await h.database.db.select().from(economicOrders).where(and(eq(economicOrders.tenantId, t.id), eq(economicOrders.orderNumber, orders[1]!)));
      return row !== undefined;
    });
    assert.equal((await loadGrant(h.database.db, h.secretBox, t.id))?.status, 'ok');

    // Revoked again: while the re-check is not due, reconciliation calls nothing.
    h.fake.revokeGrant(token);
    await failsWith(await webhook(api1, t, 'eConomicOrder', token, orders[0]!), 'EconomicCredentialsRejected');
    const calls = h.fake.calls(token).total;
    await assert.rejects(reconcile(t, 'incremental'), causedBy('CredentialsBroken'));
    assert.equal(h.fake.calls(token).total, calls, 'broken, re-check not due: no call');
    // Re-check due (time passes: next_check_at reached) but still revoked: one /self, backoff doubles.
    await h.database.db.update(tenantCredentials).set({ nextCheckAt: sql`now()` }).where(eq(tenantCredentials.tenantId, t.id));
    await assert.rejects(reconcile(t, 'incremental'), causedBy('CredentialsBroken'));
    assert.equal(h.fake.calls(token).total, calls + 1, 'exactly one /self re-check');
    const [afterCheck] = await h.database.db.select().from(tenantCredentials).where(eq(tenantCredentials.tenantId, t.id));
    assert.equal(afterCheck?.failedChecks, 1);
    assert.ok(afterCheck?.nextCheckAt && afterCheck.nextCheckAt.getTime() - Date.now() > 90_000, 'the next re-check backs off');
    assert.equal(await claimRecheck(h.database.db, t.id), false, 'not due: nobody claims it');
    // Restored; the periodic re-check (due now) heals the tenant without any webhook.
    h.fake.restoreGrant(token);
    await h.database.db.update(tenantCredentials).set({ nextCheckAt: sql`now()` }).where(eq(tenantCredentials.tenantId, t.id));
    const summary = await reconcile(t, 'full');
    assert.equal(summary.failed, 0);
    assert.equal((await loadGrant(h.database.db, h.secretBox, t.id))?.status, 'ok');
    assert.match(await statusOf(t), /restored\s+\d+\s+ok\s/);
  });

  test('a grant marked broken before re-checks existed (no next_check_at, e.g. by a 403) is re-checked at the next sync and heals', async () => {
    const token = newToken();
    const agreement = h.fake.addAgreement({ grantToken: token, withoutModules: ['Project'] });
    const { orders } = seedOrders(agreement, 'Gammel ApS', 2);
    const t = await tenantWithKey('legacy-broken');
    assert.equal((await (await webhook(api1, t, 'eConomicOrder', token, orders[0]!)).result()).lastOutcome, 'synced');
    // The row as the previous version left it after a 403 on projects.
    await h.database.db
      .update(tenantCredentials)
      .set({ status: 'broken', statusReason: 'HTTP 403 on /Projects', nextCheckAt: null, lastCheckAt: null })
      .where(eq(tenantCredentials.tenantId, t.id));
    const selfCalls = h.fake.calls(token).byEndpoint['/self'] ?? 0;
    assert.equal((await (await webhook(api2, t, 'eConomicOrder', token, orders[1]!)).result()).lastOutcome, 'synced');
    assert.equal(h.fake.calls(token).byEndpoint['/self'], selfCalls + 1, 'one re-check');
    assert.equal((await loadGrant(h.database.db, h.secretBox, t.id))?.status, 'ok');
  });

  test('the binding decision is correct with two API processes and two workers racing with grants of two agreements', async () => {
    const tokenP = newToken();
    const tokenQ = newToken();
    const p = h.fake.addAgreement({ grantToken: tokenP });
    const q = h.fake.addAgreement({ grantToken: tokenQ });
    const fromP = seedOrders(p, 'Aftale P', 8);
    const fromQ = seedOrders(q, 'Aftale Q', 8);
    assert.deepEqual(fromP.orders, fromQ.orders, 'same numbers in both agreements: only the binding tells them apart');
    const t = await tenantWithKey('race');

    // A second worker process on the same task queue, with its own database pool.
    const worker2 = await startWorkerProcess(h.workerProcessEnv);
    try {
      const handles = await Promise.all(
        fromP.orders.flatMap((n) => [webhook(api1, t, 'eConomicOrder', tokenP, n), webhook(api2, t, 'eConomicOrder', tokenQ, n)]),
      );
      await Promise.allSettled(handles.map((handle) => handle.result()));
    } finally {
      await worker2.stop();
    }
    const grant = await loadGrant(h.database.db, h.secretBox, t.id);
    assert.ok(grant?.agreementNumber === p.agreementNumber || grant?.agreementNumber === q.agreementNumber);
    const [winner, loserToken, winnerName] = grant.agreementNumber === p.agreementNumber ? [p, tokenQ, 'Aftale P'] : [q, tokenP, 'Aftale Q'];
    assert.equal(dataCalls(loserToken), 0, 'the losing agreement got no data call');
    // Each token was verified once for the whole burst: one activity claims a candidate, the others wait for it.
    assert.equal(h.fake.calls(tokenP).byEndpoint['/self'], 1, 'one GET /self for P');
    assert.equal(h.fake.calls(tokenQ).byEndpoint['/self'], 1, 'one GET /self for Q');
    const [failed] = await queryRows<{ n: number }>(h.database.db, sql`select count(*)::int as n from sync_state where tenant_id = ${t.id} and last_outcome = 'failed'`);
    assert.equal(failed?.n, 0, 'no sync of the burst failed');
    const customers = await h.database.db.select({ name: economicCustomers.name }).from(economicCustomers).where(eq(economicCustomers.tenantId, t.id));
    assert.deepEqual([...new Set(customers.map((c) => c.name))], [winnerName], 'every row comes from the bound agreement');
    assert.match(await statusOf(t), new RegExp(`race\\s+${winner.agreementNumber}\\s+ok, refused grant of agreement \\d+`));

    // The decision itself, raced from two connection pools many times: exactly one agreement wins each time.
    const other: DatabaseHandle = await openDatabase({ databaseUrl: h.database.url, dataDir: '/nonexistent', maxConnections: 5 });
    try {
      const box2 = createSecretBox(Buffer.from(h.secretsKeyHex, 'hex'));
      for (let round = 0; round < 25; round += 1) {
        await unbindTenant(h.database.db, t.id);
        const [x, y] = await Promise.all([
          adoptVerifiedGrant(h.database.db, h.secretBox, t.id, tokenP, p.agreementNumber),
          adoptVerifiedGrant(other.db, box2, t.id, tokenQ, q.agreementNumber),
        ]);
        const results = [x.result, y.result].sort();
        assert.deepEqual(results, ['bound', 'refused'], `round ${round}: ${JSON.stringify([x, y])}`);
        const bound = await loadGrant(h.database.db, h.secretBox, t.id);
        assert.equal(bound?.agreementNumber, x.result === 'bound' ? p.agreementNumber : q.agreementNumber);
        assert.equal(bound?.token, x.result === 'bound' ? tokenP : tokenQ);
      }
    } finally {
      await other.close();
    }
  });
});

describe('403 stays local', () => {
  test('a tenant without the Project module syncs customers, orders, quotes and invoices and reconciles fully without ever being marked broken', async () => {
    const token = newToken();
    const a = h.fake.addAgreement({ grantToken: token, withoutModules: ['Project'] });
    const customer = a.upsertCustomer({ name: 'Uden Projekt ApS', currency: 'DKK' });
    const project = a.upsertProject({ name: 'Usynligt projekt', customerNumber: customer });
    const line = [{ description: 'Timer', quantity: 2, unitNetPrice: 500 }];
    const withProject = a.createOrder({ customerNumber: customer, projectNumber: project, lines: line });
    const plain = a.createOrder({ customerNumber: customer, lines: line });
    const quote = a.createQuote({ customerNumber: customer, projectNumber: project, lines: line });
    const draft = a.createDraftInvoice({ customerNumber: customer, lines: line });
    const booked = a.createBookedInvoice({ customerNumber: customer, projectNumber: project, lines: line });
    const t = await tenantWithKey('no-project-module');

    // Webhooks: a document referencing a project commits with the project number kept in its data only.
    assert.equal((await (await webhook(api1, t, 'eConomicOrder', token, withProject)).result()).lastOutcome, 'synced');
    const [order] = await h.database.db.select().from(economicOrders).where(and(eq(economicOrders.tenantId, t.id), eq(economicOrders.orderNumber, withProject)));
    assert.equal(order?.projectNumber, null, 'no reference to a project row we cannot have');
    assert.equal((order?.data as { project?: { projectNumber?: number } }).project?.projectNumber, project, 'the number stays in data');
    assert.equal(order?.customerNumber, customer);
    // A project webhook is skipped without any call: the kind is known forbidden now.
    const projectCalls = h.fake.calls(token).byEndpoint;
    assert.equal((await (await webhook(api1, t, 'eConomicProject', token, project)).result()).lastOutcome, 'skipped');
    assert.deepEqual(h.fake.calls(token).byEndpoint, projectCalls, 'the skipped project sync made no call');

    const summary = await reconcile(t, 'full');
    assert.equal(summary.failed, 0, JSON.stringify(summary));
    const counts = await queryRows<{ kind: string; n: number }>(
      h.database.db,
      sql`select 'order' as kind, count(*)::int as n from economic_orders where tenant_id = ${t.id} and deleted_at is null
          union all select 'quote', count(*)::int from economic_quotes where tenant_id = ${t.id} and deleted_at is null
          union all select 'draft-invoice', count(*)::int from economic_draft_invoices where tenant_id = ${t.id} and deleted_at is null
          union all select 'booked-invoice', count(*)::int from economic_booked_invoices where tenant_id = ${t.id} and deleted_at is null
          union all select 'customer', count(*)::int from economic_customers where tenant_id = ${t.id} and deleted_at is null
          union all select 'project', count(*)::int from economic_projects where tenant_id = ${t.id}`,
    );
    assert.deepEqual(Object.fromEntries(counts.map((c) => [c.kind, c.n])), { order: 2, quote: 1, 'draft-invoice': 1, 'booked-invoice': 1, customer: 1, project: 0 });
    assert.ok(plain && quote && draft && booked);
    const grant = await loadGrant(h.database.db, h.secretBox, t.id);
    assert.equal(grant?.status, 'ok', 'never marked broken');
    const status = await statusOf(t);
    assert.match(status, /no-project-module\s+\d+\s+ok\s+project\s+0\s+0\s+-\s+0\s+forbidden/);
    for (const kind of ['customer', 'order', 'quote', 'draft-invoice', 'booked-invoice']) {
      assert.match(status, new RegExp(`\\s${kind}\\s+1?\\d\\s+0\\s+\\S+\\s+0\\s+ok`), `${kind} ok in\n${status}`);
    }
    const failures = await queryRows<{ n: number }>(h.database.db, sql`select count(*)::int as n from sync_state where tenant_id = ${t.id} and last_outcome = 'failed'`);
    assert.equal(failures[0]?.n, 0);

    // The agreement gets the module; once the kind's re-check is due (time passing is written, not slept),
    // reconciliation lists projects again, and the documents committed without theirs get the reference.
    h.fake.withModule(token, 'Project');
    await h.database.db.update(tenantKindAccess).set({ nextCheckAt: sql`now()` }).where(eq(tenantKindAccess.tenantId, t.id));
    assert.equal((await reconcile(t, 'full')).failed, 0);
    await waitFor('the documents reference their project', async () => {
      const [row] = await queryRows<{ n: number }>(
        h.database.db,
        sql`select (select count(*) from economic_orders where tenant_id = ${t.id} and project_number = ${project})
                 + (select count(*) from economic_quotes where tenant_id = ${t.id} and project_number = ${project})
                 + (select count(*) from economic_booked_invoices where tenant_id = ${t.id} and project_number = ${project}) as n`,
      );
      return Number(row?.n) === 3;
    });
    assert.match(await statusOf(t), /no-project-module\s+\d+\s+ok\s+project\s+1\s+0\s+\S+\s+0\s+ok/);
  });
});
