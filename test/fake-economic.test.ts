import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { createEconomicClient } from '../src/economic';
import { emitWebhooks, fromZoneless, MISSING_MODULES_ERROR_CODE, PROJECTS_PREFIX, seedAgreement, startFakeEconomic, toZoneless } from './fake-economic';
import type { FakeEconomic } from './fake-economic';
import { RateLimiter } from './fake-economic/throttle';
import { gate } from './helpers/gate';
import { waitFor } from './helpers/wait';

let fake: FakeEconomic;
before(async () => {
  fake = await startFakeEconomic({ appSecretToken: 'app-secret' });
});
after(async () => {
  await fake.close();
});

async function get(path: string, grant: string, secret = 'app-secret', on: FakeEconomic = fake): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${on.restUrl}${path}`, { headers: { 'X-AppSecretToken': secret, 'X-AgreementGrantToken': grant } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

const PROBLEM_FIELDS = ['type', 'title', 'status', 'detail', 'instance', 'errors', 'traceId', 'errorCode', 'traceTimeUtc'];

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
    assert.deepEqual(one.body.project, { projectNumber: p, self: `${fake.restUrl}/projects/${p}` });
    const projects = await get(`${PROJECTS_PREFIX}/Projects`, 'lines');
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

void describe('fake e-conomic: the Projects API', () => {
  void it('versioned prefix, capitalised paths (lower-case is a 404), cursor pages of at most 1,000, no pageSize or sort', async () => {
    const a = fake.addAgreement({ grantToken: 'proj-wire' });
    const c = a.upsertCustomer({});
    for (let i = 0; i < 2500; i++) a.upsertProject({ customerNumber: c, isClosed: i === 0 });
    const sizes: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await get(`${PROJECTS_PREFIX}/Projects${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, 'proj-wire');
      assert.equal(r.status, 200);
      sizes.push((r.body.items as unknown[]).length);
      cursor = r.body.cursor as string | undefined;
      pages += 1;
    } while (cursor !== undefined && pages < 10);
    assert.deepEqual(sizes, [1000, 1000, 500], 'cursor absent on the last page');

    const one = await get(`${PROJECTS_PREFIX}/Projects/1`, 'proj-wire');
    assert.equal(one.status, 200);
    assert.equal(one.body.self, undefined, 'projects have no self link');
    assert.equal(one.body.isClosed, true);
    assert.match(String(one.body.lastUpdated), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/, 'lastUpdated without a zone');
    const two = await get(`${PROJECTS_PREFIX}/Projects/2`, 'proj-wire');
    for (const k of ['isClosed', 'isBarred']) assert.equal(k in two.body, false, `false ${k} omitted`);
    for (const k of ['number', 'name', 'customerNumber', 'objectVersion', 'status', 'projectGroupNumber']) assert.ok(k in two.body, k);

    for (const path of [`${PROJECTS_PREFIX}/projects`, `${PROJECTS_PREFIX}/projects/1`, '/projectsapi/v1/Projects', '/api/v22.0.0/projects']) {
      assert.equal((await get(path, 'proj-wire')).status, 404, path);
    }
    for (const [query, property] of [['pageSize=10', 'pageSize'], ['sort=number', 'sort']]) {
      const r = await get(`${PROJECTS_PREFIX}/Projects?${query}`, 'proj-wire');
      assert.equal(r.status, 400, query);
      assert.equal((r.body.errors as Array<Record<string, unknown>>)[0]?.property, property);
    }
    assert.equal(fake.calls('proj-wire').byEndpoint['/Projects'], 5);
    assert.equal(fake.calls('proj-wire').byEndpoint['/Projects/{n}'], 2);
  });

  void it('errors are application/problem+json with every documented field', async () => {
    fake.addAgreement({ grantToken: 'proj-problem' });
    const res = await fetch(`${fake.projectsUrl}/Projects/999`, { headers: { 'X-AppSecretToken': 'app-secret', 'X-AgreementGrantToken': 'proj-problem' } });
    assert.equal(res.status, 404);
    assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/);
    const body = (await res.json()) as Record<string, unknown>;
    for (const k of PROBLEM_FIELDS) assert.ok(k in body, k);
    assert.equal(body.status, 404);
    assert.equal(body.instance, `${PROJECTS_PREFIX}/Projects/999`);
    const bad = await get(`${PROJECTS_PREFIX}/Projects?filter=${encodeURIComponent('description$eq:x')}`, 'proj-problem');
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys((bad.body.errors as Array<Record<string, unknown>>)[0] ?? {}).sort(), ['errorCode', 'message', 'property']);
    const unauthorized = await get(`${PROJECTS_PREFIX}/Projects`, 'proj-problem', 'wrong-secret');
    assert.equal(unauthorized.status, 401);
    for (const k of PROBLEM_FIELDS) assert.ok(k in unauthorized.body, k);
    // The legacy REST keeps its own shape.
    const legacy = await get('/customers/999', 'proj-problem');
    assert.ok('logId' in legacy.body && !('traceId' in legacy.body));
  });

  void it('an agreement without the Project module: 403 AccessDeniedAgreementMissingModules on every projects endpoint', async () => {
    // Tokens the log scan cannot mistake for a tenant's name in a log line (test/helpers/secret-scan.ts).
    const noProject = 'grant-without-project-7f3c9e2a';
    const noProject2 = 'grant-without-project-0b84d15c';
    const a = fake.addAgreement({ grantToken: noProject });
    a.upsertCustomer({});
    a.upsertProject({});
    fake.withoutModule(noProject, 'Project');
    for (const path of ['/Projects', '/Projects/1', '/Projects/paged', '/Projects/count']) {
      const r = await get(`${PROJECTS_PREFIX}${path}`, noProject);
      assert.equal(r.status, 403, path);
      assert.equal(r.body.title, 'Missing modules: Project');
      assert.equal(r.body.errorCode, MISSING_MODULES_ERROR_CODE);
    }
    assert.equal((await get('/customers/1', noProject)).status, 200, 'the legacy REST is unaffected');
    fake.withModule(noProject, 'Project');
    assert.equal((await get(`${PROJECTS_PREFIX}/Projects/1`, noProject)).status, 200);
    fake.addAgreement({ grantToken: noProject2, withoutModules: ['Project'] });
    assert.equal((await get(`${PROJECTS_PREFIX}/Projects`, noProject2)).status, 403);
    assert.equal((await get(`${PROJECTS_PREFIX}/Projects`, noProject)).status, 200, 'set per agreement');
  });

  void it('zone-less timestamps in a chosen zone: Danish wall clock out, filter literals read in it, a zoned literal is a 400', async () => {
    const dk = await startFakeEconomic({ appSecretToken: 'app-secret', projectsTimeZone: 'Europe/Copenhagen', clockStart: '2026-07-01T10:00:00Z' });
    try {
      const a = dk.addAgreement({ grantToken: 'dk' });
      const summer = a.upsertProject({});
      dk.clock.set('2026-01-15T10:00:00Z');
      const winter = a.upsertProject({});
      assert.equal((await get(`${PROJECTS_PREFIX}/Projects/${summer}`, 'dk', 'app-secret', dk)).body.lastUpdated, '2026-07-01T12:00:01');
      assert.equal((await get(`${PROJECTS_PREFIX}/Projects/${winter}`, 'dk', 'app-secret', dk)).body.lastUpdated, '2026-01-15T11:00:01');
      const numbers = async (filter: string) => {
        const r = await get(`${PROJECTS_PREFIX}/Projects?filter=${encodeURIComponent(filter)}`, 'dk', 'app-secret', dk);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return (r.body.items as Array<{ number: number }>).map((x) => x.number);
      };
      assert.deepEqual(await numbers('lastUpdated$gte:2026-07-01T12:00:01'), [summer]);
      assert.deepEqual(await numbers('lastUpdated$gt:2026-07-01T12:00:01'), []);
      assert.deepEqual(await numbers('lastUpdated$lt:2026-02-01T00:00:00'), [winter]);
      const zoned = await get(`${PROJECTS_PREFIX}/Projects?filter=${encodeURIComponent('lastUpdated$gt:2026-01-01T00:00:00Z')}`, 'dk', 'app-secret', dk);
      assert.equal(zoned.status, 400);
      assert.match(String(zoned.body.detail), /without a time zone/);
    } finally {
      await dk.close();
    }
    // Round trips across both DST changes of 2026 (29 March, 25 October).
    for (const iso of ['2026-03-29T00:30:00Z', '2026-03-29T01:30:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z', '2026-12-31T23:59:59Z']) {
      const ms = Date.parse(iso);
      assert.equal(fromZoneless(toZoneless(ms, 'Europe/Copenhagen'), 'Europe/Copenhagen') - ms, iso.startsWith('2026-10-25T00') ? 3600_000 : 0, iso);
      assert.equal(toZoneless(ms, 'UTC'), iso.slice(0, 19));
    }
  });
});

void describe('fake e-conomic: pacing faults', () => {
  void it('a per-agreement rate limit: 429 with Retry-After once N calls are used, refused calls logged and not charged', async () => {
    const rl = await startFakeEconomic({ appSecretToken: 'app-secret', rateLimit: { calls: 2, windowMs: 60_000 } });
    try {
      rl.addAgreement({ grantToken: 'r1' });
      rl.addAgreement({ grantToken: 'r2', rateLimit: null });
      rl.addAgreement({ grantToken: 'r3', rateLimit: { calls: 4, windowMs: 60_000 } });
      const status = async (grant: string, path = '/self') => (await get(path, grant, 'app-secret', rl)).status;
      assert.deepEqual([await status('r1'), await status('r1')], [200, 200]);
      const refused = await get('/self', 'r1', 'app-secret', rl);
      assert.equal(refused.status, 429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.equal(refused.body.httpStatusCode, 429);
      const projects = await get(`${PROJECTS_PREFIX}/Projects`, 'r1', 'app-secret', rl);
      assert.equal(projects.status, 429, 'one budget for both APIs of an agreement');
      for (const k of PROBLEM_FIELDS) assert.ok(k in projects.body, k);
      assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map(() => status('r2'))), [200, 200, 200, 200, 200], 'r2 is exempt');
      assert.deepEqual([await status('r3'), await status('r3'), await status('r3'), await status('r3'), await status('r3')], [200, 200, 200, 200, 429]);
      assert.deepEqual(rl.calls('r1'), { total: 4, byEndpoint: { '/self': 3, '/Projects': 1 } }, 'refused calls are counted per agreement and endpoint');
      assert.deepEqual(rl.callLog.filter((e) => e.agreement === 'r1').map((e) => e.rateLimited ?? false), [false, false, true, true]);
      rl.setRateLimit(undefined);
      assert.equal(await status('r1'), 200, 'the fake-wide limit off');
      rl.setRateLimit({ calls: 1, windowMs: 60_000 }, 'r2');
      assert.deepEqual([await status('r2'), await status('r2')], [200, 429], 'a per-agreement limit set later');
    } finally {
      await rl.close();
    }
    // The window: budget used up, refused until the window ends, then a fresh budget.
    const limiter = new RateLimiter();
    const spec = { calls: 2, windowMs: 1000 };
    assert.deepEqual([0, 10, 20, 999].map((t) => limiter.take('a', spec, t)), [undefined, undefined, 980, 1]);
    assert.equal(limiter.take('b', spec, 20), undefined, 'each agreement its own budget');
    assert.deepEqual([1000, 1001, 1002].map((t) => limiter.take('a', spec, t)), [undefined, undefined, 998]);
  });

  void it('latency: every answer waits a fixed or random 100–200 ms; off by default; bad settings refused', async () => {
    const slow = await startFakeEconomic({ appSecretToken: 'app-secret', latency: { minMs: 100, maxMs: 200 } });
    try {
      slow.addAgreement({ grantToken: 'slow' });
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        assert.equal((await get('/self', 'slow', 'app-secret', slow)).status, 200);
        const took = performance.now() - started;
        assert.ok(took >= 95, `answered after ${took} ms`);
      }
      slow.setLatency(150);
      const started = performance.now();
      await get('/self', 'slow', 'app-secret', slow);
      assert.ok(performance.now() - started >= 145);
      assert.throws(() => slow.setLatency({ minMs: 200, maxMs: 100 }), RangeError);
      assert.throws(() => slow.setRateLimit({ calls: 0, windowMs: 1000 }), RangeError);
    } finally {
      await slow.close();
    }
  });
  void it('concurrency: the calls of a grant token in flight at once, from arrival to answer; reset with the counts', async () => {
    const paced = await startFakeEconomic({ appSecretToken: 'app-secret', latency: 20 });
    try {
      paced.addAgreement({ grantToken: 'c1' });
      paced.addAgreement({ grantToken: 'c2' });
      assert.deepEqual(paced.concurrency('c1'), { calls: 0, peak: 0, meanInFlight: 0, spanMs: 0 });
      // Three calls held together: all three are in flight before any is answered.
      const held = gate();
      paced.faults.inject({ kind: 'held', agreement: 'c1', times: 3, until: held.until });
      const together = [1, 2, 3].map(() => get('/self', 'c1', 'app-secret', paced));
      await waitFor('three held calls', () => paced.calls('c1').total === 3);
      held.release();
      assert.deepEqual((await Promise.all(together)).map((r) => r.status), [200, 200, 200]);
      const three = paced.concurrency('c1');
      assert.equal(three.calls, 3);
      assert.equal(three.peak, 3);
      assert.ok(three.meanInFlight > 1 && three.meanInFlight <= 3, `mean ${three.meanInFlight}`);
      // One call after another: never more than one in flight, and the span includes each call's latency.
      for (let i = 0; i < 3; i++) await get('/self', 'c2', 'app-secret', paced);
      const serial = paced.concurrency('c2');
      assert.equal(serial.peak, 1);
      assert.ok(serial.meanInFlight <= 1, `mean ${serial.meanInFlight}`);
      assert.ok(serial.spanMs >= 3 * 20 - 1, `span ${serial.spanMs}`);
      assert.equal(paced.concurrency('c1').calls, 3, 'each grant token has its own meter');
      paced.resetCalls();
      assert.equal(paced.concurrency('c2').calls, 0);
    } finally {
      await paced.close();
    }
  });
});

void describe('seed', () => {
  void it('builds 100,000 documents with valid references', async () => {
    const a = fake.addAgreement({ grantToken: 'seed-big' });
    const s = seedAgreement(a, {
      customers: 500,
      projects: 1000,
      ordersPerState: 10_000,
      quotesPerState: 10_000,
      draftInvoices: 20_000,
      bookedInvoices: 20_000,
      linesPerDocument: 2,
    });
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
