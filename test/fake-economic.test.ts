import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { createEconomicClient } from '../src/economic';
import { emitWebhooks, seedAgreement, startFakeEconomic } from './fake-economic';
import type { FakeEconomic } from './fake-economic';

let fake: FakeEconomic;
before(async () => {
  fake = await startFakeEconomic({ appSecretToken: 'app-secret' });
});
after(async () => {
  await fake.close();
});

async function get(path: string, grant: string, secret = 'app-secret'): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${fake.restUrl}${path}`, { headers: { 'X-AppSecretToken': secret, 'X-AgreementGrantToken': grant } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

void describe('fake e-conomic: wire format', () => {
  void it('pages like e-conomic: pagination links, nextPage absent on the last page, pagesize limit', async () => {
    const a = fake.addAgreement({ grantToken: 'wire' });
    for (let i = 0; i < 45; i++) a.upsertCustomer({});
    const p0 = await get('/customers', 'wire');
    assert.equal(p0.status, 200);
    const pg0 = p0.body.pagination as Record<string, unknown>;
    assert.equal((p0.body.collection as unknown[]).length, 20, 'default page size is 20');
    assert.equal(pg0.results, 45);
    assert.equal(pg0.nextPage, `${fake.restUrl}/customers?skippages=1&pagesize=20`);
    assert.equal(pg0.lastPage, `${fake.restUrl}/customers?skippages=2&pagesize=20`);
    const p2 = await get('/customers?skippages=2&pagesize=20', 'wire');
    assert.equal((p2.body.collection as unknown[]).length, 5);
    assert.equal('nextPage' in (p2.body.pagination as object), false);
    assert.equal(p2.body.self, `${fake.restUrl}/customers?skippages=2&pagesize=20`);
    const big = await get('/customers?pagesize=1001', 'wire');
    assert.equal(big.status, 400);
    for (const k of ['message', 'developerHint', 'logId', 'httpStatusCode', 'errors']) assert.ok(k in big.body, k);
    const one = await get('/customers/1', 'wire');
    assert.equal(one.body.self, `${fake.restUrl}/customers/1`);
    const missing = await get('/customers/999', 'wire');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.httpStatusCode, 404);
    assert.equal((await get('/self', 'wire', 'wrong')).status, 401);
    assert.equal((await get('/self', 'unknown')).status, 401);
  });

  void it('collections list documents without lines; single GET has them with self links', async () => {
    const a = fake.addAgreement({ grantToken: 'lines' });
    const c = a.upsertCustomer({});
    const p = a.upsertProject({ customerNumber: c });
    const n = a.createOrder({ customerNumber: c, projectNumber: p, lines: [{ quantity: 1, unitNetPrice: 10, productNumber: 'X' }] });
    const list = await get('/orders/drafts', 'lines');
    const item = (list.body.collection as Array<Record<string, unknown>>)[0];
    assert.equal(item?.lines, undefined);
    const one = await get(`/orders/drafts/${n}`, 'lines');
    assert.equal((one.body.lines as unknown[]).length, 1);
    assert.deepEqual(one.body.project, { projectNumber: p, self: `${fake.projectsUrl}/projects/${p}` });
    const projects = await get(`/projectsapi/v1/projects`, 'lines');
    assert.deepEqual((projects.body.items as Array<Record<string, unknown>>).map((x) => x.number), [p]);
    assert.equal(projects.body.cursor, undefined);
  });

  void it('faults are scoped by agreement and path and used up; calls are counted per agreement and endpoint', async () => {
    fake.addAgreement({ grantToken: 'f1' });
    fake.addAgreement({ grantToken: 'f2' });
    fake.faults.inject({ agreement: 'f1', path: '/self', times: 2, kind: '503', retryAfterSeconds: 3 });
    assert.equal((await get('/self', 'f2')).status, 200);
    assert.equal((await get('/customers', 'f1')).status, 200);
    const r = await get('/self', 'f1');
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '3');
    assert.equal((await get('/self', 'f1')).status, 503);
    assert.equal((await get('/self', 'f1')).status, 200);
    assert.equal(fake.faults.pending, 0);
    fake.faults.inject({ times: 5, kind: '500' });
    fake.faults.clear();
    assert.equal((await get('/self', 'f1')).status, 200);
    assert.deepEqual(fake.calls('f1'), { total: 5, byEndpoint: { '/customers': 1, '/self': 4 } });
    const last = fake.callLog.filter((e) => e.agreement === 'f1').map((e) => e.status);
    assert.deepEqual(last, [200, 503, 503, 200, 200]);
  });
});

void describe('seed', () => {
  void it('builds 100,000 documents quickly, with valid references', async () => {
    const a = fake.addAgreement({ grantToken: 'seed-big' });
    const started = Date.now();
    const s = seedAgreement(a, {
      customers: 500,
      projects: 1000,
      ordersPerState: 10_000,
      quotesPerState: 10_000,
      draftInvoices: 20_000,
      bookedInvoices: 20_000,
      linesPerDocument: 2,
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 10_000, `seeding took ${elapsed} ms`);
    assert.equal(a.orders.sent.size, 10_000);
    assert.equal(a.quotes.archived.size, 10_000);
    assert.equal(a.bookedInvoices.size, 20_000);
    assert.equal(s.projects.length, 1000);
    for (const p of a.projects.list()) assert.ok(p.customerNumber !== null && a.customers.has(p.customerNumber));
    for (const d of a.draftInvoices.list()) {
      assert.ok(a.customers.has(d.customerNumber));
      if (d.projectNumber !== undefined) {
        assert.equal(a.projects.get(d.projectNumber)?.customerNumber, d.customerNumber);
      }
      assert.equal(d.lines.length, 2);
    }

    // Reading 20,000 booked invoices takes 20 calls of 1000.
    const client = createEconomicClient({ restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: 'app-secret', grantToken: 'seed-big' });
    let count = 0;
    for await (const page of client.bookedInvoices()) count += page.items.length;
    assert.equal(count, 20_000);
    assert.equal(fake.calls('seed-big').byEndpoint['/invoices/booked'], 20);
    let unpaid = 0;
    for await (const page of client.unpaidInvoices()) unpaid += page.items.length;
    assert.ok(unpaid > 5000 && unpaid < 15_000, `unpaid ${unpaid}`);
  });
});

void describe('webhook emitter', () => {
  let server: http.Server;
  let url: string;
  const received: Array<{ type: string; body: string }> = [];
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({ type: String(req.headers['content-type']), body });
        res.writeHead(/number"?[:=]"?13(?!\d)/.test(body) ? 400 : 202).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/?APIKey=k&APISource=eConomicOrder`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  void it('substitutes placeholders, one request per record, statuses in record order', async () => {
    received.length = 0;
    const r = await emitWebhooks({
      url,
      records: [{ number: 11 }, { number: 12, oldNumber: 7 }, { number: 13 }],
      template: '{"eConomicAPIKey":"G","number":"[NEWNUMBER]","oldNumber":"[OLDNUMBER]","inv":"[INVOICENO]"}',
      contentType: 'json',
      concurrency: 2,
    });
    assert.deepEqual(r.statuses, [202, 202, 400]);
    assert.equal(received.length, 3);
    const bodies = received.map((x) => JSON.parse(x.body) as Record<string, string>).sort((x, y) => Number(x.number) - Number(y.number));
    assert.deepEqual(bodies[1], { eConomicAPIKey: 'G', number: '12', oldNumber: '7', inv: '12' });
    assert.ok(received.every((x) => x.type === 'application/json'));
  });

  void it('form-encodes and shuffles', async () => {
    received.length = 0;
    const records = Array.from({ length: 50 }, (_, i) => ({ number: i + 100 }));
    const r = await emitWebhooks({ url, records, template: '{"eConomicAPIKey":"G H","number":"[NEWNUMBER]"}', contentType: 'form', concurrency: 1, shuffle: { seed: 7 } });
    assert.equal(r.statuses.length, 50);
    assert.ok(r.statuses.every((s) => s === 202));
    assert.ok(received.every((x) => x.type === 'application/x-www-form-urlencoded'));
    const sent = received.map((x) => new URLSearchParams(x.body));
    assert.equal(sent[0]?.get('eConomicAPIKey'), 'G H');
    const order = sent.map((p) => Number(p.get('number')));
    assert.deepEqual([...order].sort((x, y) => x - y), records.map((x) => x.number));
    assert.notDeepEqual(order, records.map((x) => x.number), 'shuffled');
    assert.deepEqual(order, r.sendOrder.map((i) => records[i]?.number));
  });

  void it('reports 0 for a request that got no answer', async () => {
    const r = await emitWebhooks({ url: 'http://127.0.0.1:1/', records: [{ number: 1 }], template: '{}', contentType: 'json', concurrency: 1 });
    assert.deepEqual(r.statuses, [0]);
    assert.ok(r.results[0]?.error);
  });
});
