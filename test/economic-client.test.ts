import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import util from 'node:util';

import {
  CallCounter,
  createEconomicClient,
  EconomicError,
  filters,
  formatProjectsTime,
  lookupOrder,
  MISSING_MODULES_ERROR_CODE,
  parseProjectsTime,
  parseRetryAfter,
  projectFilters,
  projectsTimeToInstant,
  PROJECTS_TIME_MAX_SKEW_MS,
  PROJECTS_TIME_READING,
} from '../src/economic';
import type { EconomicClient, EconomicClientOptions, Page } from '../src/economic';
import { PROJECTS_PREFIX, startFakeEconomic } from './fake-economic';
import { waitFor } from './helpers/wait';
import type { FakeAgreement, FakeEconomic } from './fake-economic';

let fake: FakeEconomic;
let seq = 0;

before(async () => {
  fake = await startFakeEconomic();
});
after(async () => {
  await fake.close();
});

function setup(extra: Partial<EconomicClientOptions> = {}, on: FakeEconomic = fake): { a: FakeAgreement; client: EconomicClient; token: string } {
  const token = `grant-${++seq}-${Math.random().toString(36).slice(2)}`;
  const a = on.addAgreement({ grantToken: token, companyName: `Firma ${seq} ApS` });
  const client = createEconomicClient({
    restUrl: on.restUrl,
    projectsUrl: on.projectsUrl,
    appSecretToken: on.appSecretToken,
    grantToken: token,
    ...extra,
  });
  return { a, client, token };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function rejects(p: Promise<unknown>): Promise<EconomicError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EconomicError, `expected EconomicError, got ${util.inspect(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

const lines = [
  { description: 'Rådgivning', productNumber: 'TIME', quantity: 2, unitNetPrice: 100 },
  { description: 'Kørsel', quantity: 1, unitNetPrice: 50, discountPercentage: 10 },
];

void describe('e-conomic client against the fake', () => {
  void it('getSelf returns the agreement', async () => {
    const { a, client } = setup();
    const self = await client.getSelf();
    assert.equal(self.agreementNumber, a.agreementNumber);
    assert.equal(self.company.name, a.companyName);
  });

  void it('customers: get, 404 → null, paging over several pages with one call per page, resume', async () => {
    const { a, client, token } = setup();
    for (let i = 0; i < 5; i++) a.upsertCustomer({ name: `Kunde ${i}`, currency: 'EUR' });
    const c = await client.getCustomer(3);
    assert.equal(c?.customerNumber, 3);
    assert.equal(c?.name, 'Kunde 2');
    assert.equal(c?.currency, 'EUR');
    assert.match(String(c?.lastUpdated), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(c?.customerGroup, 'unknown fields are kept');
    assert.equal(await client.getCustomer(99), null);

    const before = fake.calls(token).total;
    const pages = await collect(client.customers({ pageSize: 2 }));
    assert.equal(fake.calls(token).total - before, 3, 'one call per page');
    assert.deepEqual(pages.map((p) => p.items.map((x) => x.customerNumber)), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(pages.map((p) => [p.skipPages, p.nextSkipPages]), [[0, 1], [1, 2], [2, undefined]]);
    assert.equal(pages[0]?.results, 5);

    const resumed = await collect(client.customers({ pageSize: 2, skipPages: 2 }));
    assert.deepEqual(resumed.map((p) => p.items.map((x) => x.customerNumber)), [[5]]);
    // Default page size is the maximum, so 5 customers take one call.
    const b2 = fake.calls(token).total;
    const all = await collect(client.customers());
    assert.equal(all.length, 1);
    assert.equal(fake.calls(token).total - b2, 1);
    assert.match(fake.callLog[fake.callLog.length - 1]?.query ?? '', /pagesize=1000/);
  });

  for (const kind of ['order', 'quote'] as const) {
    void it(`${kind}s: every state, lines on single GET, lastUpdated absent when archived`, async () => {
      const { a, client } = setup();
      const cust = a.upsertCustomer({ name: 'K' });
      const proj = a.upsertProject({ name: 'P', customerNumber: cust });
      const create = kind === 'order' ? a.createOrder.bind(a) : a.createQuote.bind(a);
      const send = kind === 'order' ? a.sendOrder.bind(a) : a.sendQuote.bind(a);
      const archive = kind === 'order' ? a.archiveOrder.bind(a) : a.archiveQuote.bind(a);
      const get = kind === 'order' ? client.getOrder.bind(client) : client.getQuote.bind(client);
      const list = kind === 'order' ? client.orders.bind(client) : client.quotes.bind(client);
      const key = kind === 'order' ? 'orderNumber' : 'quoteNumber';

      const d = create({ customerNumber: cust, projectNumber: proj, lines, currency: 'EUR', date: '2026-02-03' });
      const s = create({ customerNumber: cust, lines });
      const ar = create({ customerNumber: cust, lines });
      send(s);
      send(ar);
      archive(ar);

      const draft = await get('drafts', d);
      assert.equal(draft?.[key], d);
      assert.equal(draft?.customer.customerNumber, cust);
      assert.equal(draft?.project?.projectNumber, proj);
      assert.equal(draft?.currency, 'EUR');
      assert.equal(draft?.date, '2026-02-03');
      assert.equal(draft?.netAmount, 245);
      assert.equal(draft?.vatAmount, 61.25);
      assert.equal(draft?.grossAmount, 306.25);
      assert.equal(draft?.lines?.length, 2);
      assert.deepEqual(
        draft?.lines?.map((l) => [l.lineNumber, l.description, l.product?.productNumber, l.quantity, l.unitNetPrice, l.totalNetAmount]),
        [[1, 'Rådgivning', 'TIME', 2, 100, 200], [2, 'Kørsel', undefined, 1, 50, 45]],
      );
      assert.ok(draft?.lastUpdated);
      assert.equal((await get('sent', s))?.[key], s);
      const archived = await get('archived', ar);
      assert.equal(archived?.[key], ar);
      assert.equal(archived?.lastUpdated, undefined);
      assert.equal(await get('drafts', s), null);
      assert.equal((await get('sent', s))?.project, undefined, 'project is optional');

      for (const [state, n] of [['drafts', d], ['sent', s], ['archived', ar]] as const) {
        const pages = await collect(list(state));
        assert.deepEqual(pages.flatMap((p) => p.items.map((x) => x[key])), [n]);
      }
    });
  }

  void it('draft invoice → booked: new number, draft gone, remainder moves with payments, unpaid view', async () => {
    const { a, client } = setup();
    const cust = a.upsertCustomer({});
    const n = a.createDraftInvoice({ customerNumber: cust, lines });
    const draft = await client.getDraftInvoice(n);
    assert.equal(draft?.draftInvoiceNumber, n);
    assert.equal((await collect(client.draftInvoices())).flatMap((p) => p.items).length, 1);

    const booked = a.bookDraftInvoice(n);
    assert.notEqual(booked, n);
    assert.equal(await client.getDraftInvoice(n), null);
    const b = await client.getBookedInvoice(booked);
    assert.equal(b?.bookedInvoiceNumber, booked);
    assert.equal(b?.remainder, 306.25);
    assert.equal(b?.lastUpdated, undefined);
    assert.equal(b?.lines?.[0]?.vatRate, 25);

    a.payInvoice(booked, 100);
    assert.equal((await client.getBookedInvoice(booked))?.remainder, 206.25);
    assert.deepEqual((await collect(client.unpaidInvoices())).flatMap((p) => p.items.map((x) => x.bookedInvoiceNumber)), [booked]);
    a.payInvoice(booked, 206.25);
    assert.deepEqual((await collect(client.unpaidInvoices())).flatMap((p) => p.items), []);
    assert.deepEqual((await collect(client.bookedInvoices())).flatMap((p) => p.items.map((x) => [x.bookedInvoiceNumber, x.remainder])), [[booked, 0]]);
    assert.equal(await client.getBookedInvoice(booked + 1000), null);
  });

  void it('lifecycle: update moves lastUpdated, delete → null, renumber moves the number', async () => {
    const { a, client } = setup();
    const cust = a.upsertCustomer({});
    const n = a.createOrder({ customerNumber: cust, lines });
    const v1 = await client.getOrder('drafts', n);
    a.updateOrder(n, { heading: 'Ny overskrift' });
    const v2 = await client.getOrder('drafts', n);
    assert.ok(Date.parse(String(v2?.lastUpdated)) > Date.parse(String(v1?.lastUpdated)));
    assert.deepEqual(v2?.notes, { heading: 'Ny overskrift' });

    a.renumberOrder(n, 500);
    assert.equal(await client.getOrder('drafts', n), null);
    assert.equal((await client.getOrder('drafts', 500))?.orderNumber, 500);
    a.deleteOrder(500);
    assert.equal(await client.locateOrder(500), null);

    const c1 = await client.getCustomer(cust);
    a.upsertCustomer({ customerNumber: cust, name: 'Omdøbt' });
    const c2 = await client.getCustomer(cust);
    assert.equal(c2?.name, 'Omdøbt');
    assert.ok(String(c2?.lastUpdated) > String(c1?.lastUpdated));
    a.deleteCustomer(cust);
    assert.equal(await client.getCustomer(cust), null);
  });

  void it('lifecycle of quotes and draft invoices: renumber, delete, sort', async () => {
    const { a, client } = setup();
    const cust = a.upsertCustomer({});
    const q = a.createQuote({ customerNumber: cust });
    a.renumberQuote(q, 77);
    assert.equal((await client.locateQuote(77))?.document.quoteNumber, 77);
    assert.equal(await client.locateQuote(q), null);
    a.deleteQuote(77);
    assert.equal(await client.locateQuote(77, 'drafts'), null);
    const d1 = a.createDraftInvoice({ customerNumber: cust });
    const d2 = a.createDraftInvoice({ customerNumber: cust });
    a.renumberDraftInvoice(d1, 90);
    assert.deepEqual((await collect(client.draftInvoices())).flatMap((p) => p.items.map((x) => x.draftInvoiceNumber)), [d2, 90]);
    assert.deepEqual((await collect(client.draftInvoices({ sort: '-draftInvoiceNumber' }))).flatMap((p) => p.items.map((x) => x.draftInvoiceNumber)), [90, d2]);
    a.deleteDraftInvoice(90);
    assert.equal(await client.getDraftInvoice(90), null);
  });

  void it('locateOrder/locateQuote: hint first, then lifecycle order, with call counts', async () => {
    const { a, client, token } = setup();
    const cust = a.upsertCustomer({});
    const n = a.createOrder({ customerNumber: cust });
    a.sendOrder(n);
    a.archiveOrder(n);
    const q = a.createQuote({ customerNumber: cust });
    a.sendQuote(q);

    const calls = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
      const b = fake.calls(token).total;
      const r = await f();
      return [r, fake.calls(token).total - b];
    };
    let [found, used] = await calls(() => client.locateOrder(n));
    assert.equal(found?.state, 'archived');
    assert.equal(found?.document.orderNumber, n);
    assert.equal(used, 3);
    [found, used] = await calls(() => client.locateOrder(n, 'archived'));
    assert.equal(found?.state, 'archived');
    assert.equal(used, 1);
    [found, used] = await calls(() => client.locateOrder(n, 'sent'));
    assert.equal(found?.state, 'archived');
    assert.equal(used, 2, 'after a stale "sent" hint the next forward state is tried first');
    [found, used] = await calls(() => client.locateQuote(q, 'drafts'));
    assert.equal(found?.state, 'sent');
    assert.equal(used, 2);
    [found, used] = await calls(() => client.locateQuote(q + 100));
    assert.equal(found, null);
    assert.equal(used, 3);
    assert.deepEqual(lookupOrder('sent'), ['sent', 'archived', 'drafts']);
    assert.deepEqual(lookupOrder(), ['drafts', 'sent', 'archived']);
    assert.deepEqual(fake.calls(token).byEndpoint['/orders/archived/{n}'], 3);
  });

  void it('filter: lastUpdated, number ranges, $in, $and; 400 on a non-filterable field', async () => {
    const { a, client } = setup();
    for (let i = 0; i < 4; i++) a.upsertCustomer({});
    const mid = fake.clock.now();
    fake.clock.advance(60_000);
    a.upsertCustomer({ customerNumber: 2, name: 'Changed' });
    a.upsertCustomer({});
    const numbers = async (filter: string) =>
      (await collect(client.customers({ filter }))).flatMap((p) => p.items.map((c) => c.customerNumber));
    assert.deepEqual(await numbers(filters.lastUpdatedAfter(mid)), [2, 5]);
    assert.deepEqual(await numbers(filters.numberRange('customerNumber', 2, 4)), [2, 3, 4]);
    assert.deepEqual(await numbers(filters.in('customerNumber', [1, 5, 9])), [1, 5]);
    assert.deepEqual(await numbers(filters.and(filters.lastUpdatedAfter(mid), filters.lt('customerNumber', 5))), [2]);
    assert.deepEqual(await numbers(filters.eq('name', 'Changed')), [2]);

    const cust = 1;
    const d = a.createOrder({ customerNumber: cust });
    a.archiveOrder(d);
    assert.equal((await collect(client.orders('sent', { filter: filters.lastUpdatedAfter(mid) }))).flatMap((p) => p.items).length, 0);
    const err = await rejects(collect(client.orders('archived', { filter: filters.lastUpdatedAfter(mid) })));
    assert.equal(err.kind, 'bad_request');
    assert.equal(err.status, 400);
    assert.equal(err.endpoint, '/orders/archived');
    assert.ok(err.logId);
    assert.match(err.message, /not filterable/);
    const err2 = await rejects(collect(client.bookedInvoices({ filter: filters.lastUpdatedAfter(mid) })));
    assert.equal(err2.kind, 'bad_request');
    // Paging by number is how booked invoices are read incrementally.
    assert.deepEqual(await collect(client.bookedInvoices({ filter: filters.gt('bookedInvoiceNumber', 0) })), [
      { items: [], skipPages: 0, pageSize: 1000, results: 0 },
    ]);
  });

  void it('counts calls per agreement key in a CallCounter', async () => {
    const counter = new CallCounter();
    const { a, client, token } = setup({ counter, agreementKey: 'tenant-a' });
    a.upsertCustomer({});
    const b = fake.calls(token).total;
    await client.getSelf();
    await client.getCustomer(1);
    await client.getCustomer(2);
    await collect(client.projects());
    assert.equal(counter.total('tenant-a'), 4);
    assert.equal(counter.total('tenant-a'), fake.calls(token).total - b);
    assert.deepEqual(counter.snapshot()['tenant-a']?.byEndpoint, { '/self': 1, '/customers/{n}': 2, '/Projects': 1 });
    assert.equal(counter.total(token), 0);
  });

  void it('tells the CallCounter how each call ended and how long it took, once per call counted', async () => {
    const ended: Array<{ endpoint: string; outcome: string; seconds: number }> = [];
    let counted = 0;
    const counter = new CallCounter(
      () => (counted += 1),
      (endpoint, outcome, seconds) => ended.push({ endpoint, outcome, seconds }),
    );
    const { a, client, token } = setup({ counter, agreementKey: 'tenant-o', timeoutMs: 150 });
    a.upsertCustomer({ customerNumber: 1 });
    const settle = async (p: Promise<unknown>) => p.then(() => undefined, () => undefined);
    await settle(client.getSelf());
    await settle(client.getCustomer(1));
    await settle(client.getCustomer(404404));
    for (const kind of ['429', '503', '500', 'hang', 'reset'] as const) {
      fake.faults.inject({ agreement: token, times: 1, kind, retryAfterSeconds: 1 });
      await settle(client.getSelf());
    }
    fake.forbid(token, '/invoices/booked');
    await settle(client.getBookedInvoice(1));
    const caller = new AbortController();
    const { client: cancelled, token: t2 } = setup({ counter, agreementKey: 'tenant-o', timeoutMs: 30_000, signal: caller.signal });
    fake.faults.inject({ agreement: t2, times: 1, kind: 'hang' });
    const gone = settle(cancelled.getSelf());
    await waitFor('the held call to arrive', () => fake.calls(t2).total === 1);
    caller.abort(new Error('activity cancelled'));
    await gone;
    fake.revokeGrant(token);
    await settle(client.getSelf());
    assert.deepEqual(
      ended.map((e) => `${e.endpoint} ${e.outcome}`),
      [
        '/self ok',
        '/customers/{n} ok',
        '/customers/{n} not_found',
        '/self rate_limited',
        '/self server_error',
        '/self server_error',
        '/self timeout',
        '/self network',
        '/invoices/booked/{n} forbidden',
        '/self cancelled',
        '/self unauthorized',
      ],
    );
    assert.equal(counted, ended.length, 'every counted call ends exactly once: an in-flight gauge fed by both returns to zero');
    assert.ok(ended.every((e) => e.seconds >= 0 && e.seconds < 30), JSON.stringify(ended));
    const timedOut = ended.find((e) => e.outcome === 'timeout');
    assert.ok(timedOut && timedOut.seconds >= 0.14, `the timeout took ${timedOut?.seconds} s`);
  });
});

void describe('e-conomic client error classification', () => {
  void it('401 for unknown grant, revoked grant and wrong app secret; 403 where forbidden', async () => {
    const unknown = createEconomicClient({ restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: fake.appSecretToken, grantToken: 'nope' });
    let e = await rejects(unknown.getSelf());
    assert.equal(e.kind, 'unauthorized');
    assert.equal(e.status, 401);
    assert.equal(e.retryable, false);

    const { client, token } = setup();
    await client.getSelf();
    fake.revokeGrant(token);
    e = await rejects(client.getCustomer(1));
    assert.equal(e.kind, 'unauthorized');
    assert.equal(e.endpoint, '/customers/{n}');

    const { token: t2 } = setup();
    const badSecret = createEconomicClient({ restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: 'wrong', grantToken: t2 });
    assert.equal((await rejects(badSecret.getSelf())).kind, 'unauthorized');

    const { client: c3, token: t3 } = setup();
    fake.forbid(t3, '/invoices/booked');
    e = await rejects(c3.getBookedInvoice(1));
    assert.equal(e.kind, 'forbidden');
    assert.equal(e.status, 403);
    assert.equal(e.endpoint, '/invoices/booked/{n}');
    assert.equal(e.resource, 'invoices/booked');
    assert.equal(e.missingModule, undefined, 'a role refusal is not a missing module');
    assert.equal(await c3.getDraftInvoice(1), null, 'other resources stay readable');
  });

  void it('429 → rate_limited with Retry-After surfaced as retryAfterMs', async () => {
    const { client, token } = setup();
    fake.faults.inject({ agreement: token, path: '/self', times: 1, kind: '429', retryAfterSeconds: 7 });
    const e = await rejects(client.getSelf());
    assert.equal(e.kind, 'rate_limited');
    assert.equal(e.status, 429);
    assert.equal(e.retryAfterMs, 7000);
    assert.equal(e.retryable, true);
    fake.faults.inject({ agreement: token, times: 1, kind: '429' });
    assert.equal((await rejects(client.getSelf())).retryAfterMs, undefined);
    assert.ok((await client.getSelf()).agreementNumber, 'the fault is used up');
    assert.equal(parseRetryAfter('Wed, 01 Jan 2026 00:00:30 GMT', Date.parse('2026-01-01T00:00:00Z')), 30_000);
    assert.equal(parseRetryAfter('1.5'), 1500);
    assert.equal(parseRetryAfter('soon'), undefined);
  });

  for (const kind of ['500', '503', 'reset', 'malformed', 'truncated'] as const) {
    void it(`${kind} → transient`, async () => {
      const { client, token } = setup();
      fake.faults.inject({ agreement: token, path: /^\/customers/, times: 1, kind });
      const e = await rejects(collect(client.customers()));
      assert.equal(e.kind, 'transient');
      assert.equal(e.endpoint, '/customers');
      if (kind === '500' || kind === '503') assert.equal(e.status, Number(kind));
      assert.deepEqual(await collect(client.customers()), [{ items: [], skipPages: 0, pageSize: 1000, results: 0 }]);
    });
  }

  void it('a hanging request times out as transient; the projects API is faulted by its own path', async () => {
    const { client, token } = setup({ timeoutMs: 150 });
    fake.faults.inject({ agreement: token, path: '/Projects', times: 1, kind: 'hang' });
    const e = await rejects(client.getProject(1));
    assert.equal(e.kind, 'transient');
    assert.match(e.message, /timed out after 150 ms/);
    assert.equal(e.endpoint, '/Projects/{n}');
    assert.equal(e.api, 'projects');
    assert.equal(await client.getProject(1), null);
  });

  void it("the caller's abort is rethrown as is, not as transient", async () => {
    const { client: c0 } = setup({ signal: AbortSignal.abort(new Error('shutting down')) });
    await assert.rejects(c0.getSelf(), /shutting down/);
    const { client, token } = setup({ timeoutMs: 30_000, signal: AbortSignal.timeout(100) });
    fake.faults.inject({ agreement: token, times: 1, kind: 'hang' });
    await assert.rejects(client.getSelf(), (err: unknown) => {
      assert.ok(!(err instanceof EconomicError));
      assert.equal((err as Error).name, 'TimeoutError');
      return true;
    });
  });

  void it('never exposes a token in errors, even when the server echoes it', async () => {
    const appSecretToken = 'APPSECRET-0123456789-unique';
    const grantToken = 'GRANT-9876543210-unique';
    // A server that echoes the tokens back in its error bodies, in both APIs' shapes.
    const echo = http.createServer((req, res) => {
      const grant = String(req.headers['x-agreementgranttoken']);
      const secret = String(req.headers['x-appsecrettoken']);
      if (req.url?.startsWith('/Projects')) {
        const problem = { type: 'about:blank', title: `Missing modules: ${grant}`, status: 403, detail: secret, instance: req.url, errors: [{ message: grant, errorCode: secret, property: secret }], traceId: grant, errorCode: secret, traceTimeUtc: '2026-01-01T00:00:00' };
        res.writeHead(403, { 'Content-Type': 'application/problem+json' }).end(JSON.stringify(problem));
        return;
      }
      const status = req.url?.startsWith('/customers?') ? 404 : 400;
      const body = JSON.stringify({ message: `bad request for ${grant} / ${secret}`, developerHint: grant, logId: secret, httpStatusCode: status });
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    const errors: unknown[] = [];
    const grab = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        errors.push(e);
      }
    };
    try {
      const c = createEconomicClient({ restUrl: echoUrl, projectsUrl: echoUrl, appSecretToken, grantToken });
      await grab(c.getCustomer(1));
      await grab(c.getProject(1));
      await grab(collect(c.customers()));
      const a = fake.addAgreement({ grantToken });
      const f = createEconomicClient({ restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: fake.appSecretToken, grantToken, timeoutMs: 100 });
      await grab(createEconomicClient({ restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken, grantToken }).getSelf());
      for (const kind of ['429', '500', 'hang', 'reset', 'malformed', 'truncated'] as const) {
        fake.faults.inject({ agreement: grantToken, times: 1, kind, retryAfterSeconds: 1 });
        await grab(f.getSelf());
      }
      fake.forbid(grantToken, '/customers');
      await grab(f.getCustomer(1));
      a.upsertCustomer({});
      await grab(collect(f.orders('archived', { filter: 'lastUpdated$gt:2020-01-01T00:00:00Z' })));
      fake.revokeGrant(grantToken);
      await grab(f.getSelf());
      const closed = createEconomicClient({ restUrl: 'http://127.0.0.1:1', projectsUrl: 'http://127.0.0.1:1', appSecretToken, grantToken });
      await grab(closed.getSelf());
    } finally {
      await new Promise<void>((r) => echo.close(() => r()));
    }
    assert.equal(errors.length, 14);
    const kinds = new Set<string>();
    for (const e of errors) {
      assert.ok(e instanceof EconomicError);
      kinds.add(e.kind);
      const dumps = [JSON.stringify(e), util.inspect(e, { depth: 10, showHidden: true }), String(e.stack), e.message, String(e), String(e.missingModule), String(e.traceId), String(e.errorCode)];
      for (const d of dumps) {
        assert.ok(!d.includes(grantToken), `grant token leaked: ${d}`);
        assert.ok(!d.includes(appSecretToken), `app secret leaked: ${d}`);
      }
    }
    assert.deepEqual([...kinds].sort(), ['bad_request', 'forbidden', 'listing_not_found', 'rate_limited', 'transient', 'unauthorized']);
  });

  void it('validates page sizes before calling', async () => {
    const { client, token } = setup();
    await assert.rejects(collect(client.customers({ pageSize: 1001 })), RangeError);
    await assert.rejects(collect(client.customers({ pageSize: 0 })), RangeError);
    await assert.rejects(client.getProject(0), RangeError);
    assert.equal(fake.calls(token).total, 0);
  });
});

void describe('the Projects API as docs/economic-api.md describes it', () => {
  let small: FakeEconomic;
  let danish: FakeEconomic;
  before(async () => {
    // Cursor pages of 2, so paging shows with five projects; and a fake writing Danish wall clocks.
    small = await startFakeEconomic({ projectsPageSize: 2 });
    danish = await startFakeEconomic({ projectsTimeZone: 'Europe/Copenhagen', clockStart: '2026-01-15T08:00:00Z' });
  });
  after(async () => {
    await small.close();
    await danish.close();
  });

  void it('capitalised paths under /projectsapi/v1.1.0; get, 404 → null; cursor pages without pageSize, one call each; resume', async () => {
    const { a, client, token } = setup({}, small);
    const cust = a.upsertCustomer({});
    for (let i = 0; i < 5; i++) a.upsertProject({ name: `P${i}`, customerNumber: cust, isClosed: i === 4 });
    const p = await client.getProject(2);
    assert.equal(p?.number, 2);
    assert.equal(p?.name, 'P1');
    assert.equal(p?.customerNumber, cust);
    assert.equal(p?.isClosed, undefined, 'false booleans are omitted');
    assert.equal((await client.getProject(5))?.isClosed, true);
    assert.ok(p?.objectVersion);
    assert.equal(await client.getProject(42), null);
    assert.equal(PROJECTS_PREFIX, '/projectsapi/v1.1.0');
    assert.deepEqual(
      small.callLog.filter((c) => c.agreement === token).map((c) => [c.path, c.status]),
      [[`${PROJECTS_PREFIX}/Projects/2`, 200], [`${PROJECTS_PREFIX}/Projects/5`, 200], [`${PROJECTS_PREFIX}/Projects/42`, 404]],
    );

    small.resetCalls();
    const pages = await collect(client.projects());
    assert.equal(small.calls(token).byEndpoint['/Projects'], 3, 'one call per page');
    assert.deepEqual(pages.map((pg) => pg.items.map((x) => x.number)), [[1, 2], [3, 4], [5]]);
    assert.equal(pages[2]?.cursor, undefined, 'no cursor on the last page');
    const queries = small.callLog.map((c) => new URLSearchParams(c.query));
    assert.ok(queries.every((q) => !q.has('pageSize') && !q.has('pagesize') && !q.has('sort')), 'the cursor endpoint gets no pageSize or sort');
    assert.deepEqual(queries.map((q) => q.get('cursor')), [null, pages[0]?.cursor, pages[1]?.cursor]);

    const resumed = await collect(client.projects({ cursor: pages[0]?.cursor }));
    assert.deepEqual(resumed.map((pg) => pg.items.map((x) => x.number)), [[3, 4], [5]]);
    const closed = await collect(client.projects({ filter: projectFilters.eq('isClosed', true) }));
    assert.deepEqual(closed.flatMap((pg) => pg.items.map((x) => x.number)), [5]);
    a.upsertProject({ number: 5, name: 'renamed' });
    assert.equal((await client.getProject(5))?.objectVersion, 'v2');
  });

  void it(`lastUpdated: zone-less on the wire, read as the same instant whatever the host's zone (TZ=${process.env.TZ ?? 'unset'})`, async () => {
    const { a, client, token } = setup();
    const n = a.upsertProject({ name: 'Tidszone' });
    const truth = a.projects.get(n)?.lastUpdated;
    const res = await fetch(`${fake.projectsUrl}/Projects/${n}`, { headers: { 'X-AppSecretToken': fake.appSecretToken, 'X-AgreementGrantToken': token } });
    const raw = ((await res.json()) as { lastUpdated: string }).lastUpdated;
    assert.match(raw, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/, 'no zone on the wire');
    assert.equal((await client.getProject(n))?.lastUpdated, truth, 'an instant with Z, equal to the one e-conomic (the fake, in UTC) recorded');
    const listed = (await collect(client.projects())).flatMap((pg) => pg.items);
    assert.equal(listed.find((x) => x.number === n)?.lastUpdated, truth);
    // What the client avoids: JavaScript reads a zone-less text in the host's zone.
    const naive = new Date(raw);
    assert.equal(naive.getTime() - parseProjectsTime(raw).getTime(), naive.getTimezoneOffset() * 60_000);
  });

  void it('the reading is one documented function: UTC, zones honoured when written, nonsense refused', () => {
    assert.equal(PROJECTS_TIME_READING, 'UTC');
    assert.equal(parseProjectsTime('2022-05-31T00:00:00').toISOString(), '2022-05-31T00:00:00.000Z');
    assert.equal(parseProjectsTime('2022-05-31T13:45:10.1234567').toISOString(), '2022-05-31T13:45:10.123Z');
    assert.equal(parseProjectsTime('2022-05-31T13:45').toISOString(), '2022-05-31T13:45:00.000Z');
    assert.equal(parseProjectsTime('2022-05-31T00:00:00+02:00').toISOString(), '2022-05-30T22:00:00.000Z');
    assert.equal(parseProjectsTime('2022-05-31T00:00:00Z').toISOString(), '2022-05-31T00:00:00.000Z');
    for (const bad of ['2022-02-30T00:00:00', '2022-05-31T24:00:00', '2022-05-31T10:00:60', '2022-05-31', 'yesterday', '']) {
      assert.throws(() => parseProjectsTime(bad), RangeError, bad);
    }
    assert.equal(projectsTimeToInstant('2022-05-31T00:00:00'), '2022-05-31T00:00:00Z');
    assert.equal(projectsTimeToInstant('2022-05-31T00:00:00.250'), '2022-05-31T00:00:00.250Z');
    assert.equal(formatProjectsTime(new Date('2022-05-31T22:15:30.999Z')), '2022-05-31T22:15:30');
    assert.equal(projectFilters.lastUpdatedAfter(new Date('2026-01-01T00:00:00.500Z')), 'lastUpdated$gt:2026-01-01T00:00:00');
    assert.equal(projectFilters.lastUpdatedAfter('2026-01-01T01:00:00+01:00'), 'lastUpdated$gt:2026-01-01T00:00:00');
    assert.throws(() => filters.lastUpdatedAfter('2026-01-01T00:00:00'), RangeError, 'a zone-less string would be read in the host zone');
    assert.equal(PROJECTS_TIME_MAX_SKEW_MS, 2 * 3600_000);
  });

  void it('filters are written zone-less: an incremental filter finds exactly the changed projects; the REST form is a 400', async () => {
    const { a, client } = setup();
    for (let i = 0; i < 3; i++) a.upsertProject({});
    const mid = fake.clock.now();
    fake.clock.advance(60_000);
    a.upsertProject({ number: 2, name: 'Ændret' });
    a.upsertProject({});
    const numbers = async (filter: string) => (await collect(client.projects({ filter }))).flatMap((pg) => pg.items.map((x) => x.number));
    assert.deepEqual(await numbers(projectFilters.lastUpdatedAfter(mid)), [2, 4]);
    assert.deepEqual(await numbers(projectFilters.and(projectFilters.lastUpdatedAfter(mid), projectFilters.lt('number', 4))), [2]);
    const e = await rejects(collect(client.projects({ filter: filters.lastUpdatedAfter(mid) })));
    assert.equal(e.kind, 'bad_request');
    assert.equal(e.status, 400);
    assert.equal(e.api, 'projects');
    assert.equal(e.endpoint, '/Projects');
    assert.equal(e.errorCode, 'ValidationError');
    assert.match(e.traceId ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.match(e.message, /Invalid filter\. .*without a time zone.*\(filter: /);
    const nf = await rejects(collect(client.projects({ filter: projectFilters.eq('description', 'x') })));
    assert.match(nf.message, /not filterable/);
  });

  void it('a Danish wall clock is read at most PROJECTS_TIME_MAX_SKEW_MS late, and filters stay consistent within the API', async () => {
    const { a, client } = setup({}, danish);
    const winter = a.upsertProject({ name: 'Vinter' });
    danish.clock.set('2026-07-01T08:00:00Z');
    const summer = a.upsertProject({ name: 'Sommer' });
    const skew = async (n: number) => {
      const read = Date.parse(String((await client.getProject(n))?.lastUpdated));
      return read - Date.parse(String(a.projects.get(n)?.lastUpdated));
    };
    assert.equal(await skew(winter), 3600_000, 'UTC+1 in winter');
    assert.equal(await skew(summer), 2 * 3600_000, 'UTC+2 in summer');
    assert.ok((await skew(summer)) <= PROJECTS_TIME_MAX_SKEW_MS);
    // Read and written through the same function, a filter finds what the reading says is newer.
    const winterRead = new Date(String((await client.getProject(winter))?.lastUpdated));
    const after = (await collect(client.projects({ filter: projectFilters.lastUpdatedAfter(winterRead) }))).flatMap((pg) => pg.items.map((x) => x.number));
    assert.deepEqual(after, [summer]);
    const from = (await collect(client.projects({ filter: projectFilters.gte('lastUpdated', winterRead) }))).flatMap((pg) => pg.items.map((x) => x.number));
    assert.deepEqual(from, [winter, summer]);
  });

  void it('an agreement without the Project module: 403 problem+json on every projects endpoint, recognisable, the REST unaffected', async () => {
    const { a, client, token } = setup();
    a.upsertCustomer({});
    a.upsertProject({});
    fake.withoutModule(token, 'Project');
    const one = await rejects(client.getProject(1));
    const list = await rejects(collect(client.projects()));
    for (const e of [one, list]) {
      assert.equal(e.kind, 'forbidden');
      assert.equal(e.status, 403);
      assert.equal(e.api, 'projects');
      assert.equal(e.resource, 'projects');
      assert.equal(e.missingModule, 'Project');
      assert.equal(e.errorCode, MISSING_MODULES_ERROR_CODE);
      assert.ok(e.traceId);
      assert.equal(e.retryable, false);
      assert.match(e.message, /HTTP 403 forbidden: Missing modules: Project/);
    }
    assert.equal(one.endpoint, '/Projects/{n}');
    assert.equal(list.endpoint, '/Projects');
    assert.equal((await client.getCustomer(1))?.customerNumber, 1, 'the legacy REST is unaffected');
    fake.withModule(token, 'Project');
    assert.equal((await client.getProject(1))?.number, 1, 'the module back, projects read again');

    const t2 = `no-module-${++seq}`;
    fake.addAgreement({ grantToken: t2, withoutModules: ['Project'] });
    const c2 = createEconomicClient({ restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: fake.appSecretToken, grantToken: t2 });
    assert.equal((await rejects(c2.getProject(1))).missingModule, 'Project');
    assert.equal((await c2.getSelf()).agreementNumber, fake.agreement(t2)?.agreementNumber);
  });

  void it('a 401 from the Projects API is problem+json too', async () => {
    const { client, token } = setup();
    fake.revokeGrant(token);
    const e = await rejects(client.getProject(1));
    assert.equal(e.kind, 'unauthorized');
    assert.equal(e.api, 'projects');
    assert.equal(e.errorCode, 'Unauthorized');
    assert.ok(e.traceId);
    assert.equal(e.missingModule, undefined);
  });
});

void describe('a listing 404 is loud, an entity 404 stays "not found"', () => {
  void it('a wrong REST base URL raises listing_not_found on every listing and deletes nothing by accident', async () => {
    const { a, token } = setup();
    a.upsertCustomer({});
    a.upsertProject({});
    const wrong = createEconomicClient({ restUrl: `${fake.restUrl}/api/v2`, projectsUrl: fake.projectsUrl, appSecretToken: fake.appSecretToken, grantToken: token });
    const listings: Array<[string, AsyncIterable<unknown>]> = [
      ['/customers', wrong.customers()],
      ['/orders/drafts', wrong.orders('drafts')],
      ['/quotes/archived', wrong.quotes('archived')],
      ['/invoices/drafts', wrong.draftInvoices()],
      ['/invoices/booked', wrong.bookedInvoices()],
      ['/invoices/unpaid', wrong.unpaidInvoices()],
    ];
    for (const [endpoint, listing] of listings) {
      const e = await rejects(collect(listing));
      assert.equal(e.kind, 'listing_not_found', endpoint);
      assert.equal(e.status, 404);
      assert.equal(e.retryable, false);
      assert.equal(e.endpoint, endpoint);
      assert.equal(e.resource, endpoint.slice(1));
      assert.equal(e.api, 'rest');
      assert.ok(e.logId, 'e-conomic-style logId kept');
      assert.match(e.message, /404 on a listing: the REST base URL or path is wrong/);
    }
    assert.equal(await wrong.getCustomer(1), null, 'a single entity 404 is still "not found"');
    // With the right URL an empty listing is a page without items, never a 404.
    const { client: empty } = setup();
    assert.deepEqual(await collect(empty.customers()), [{ items: [], skipPages: 0, pageSize: 1000, results: 0 }]);
    assert.deepEqual(await collect(empty.projects()), [{ items: [] }]);
  });

  void it('a wrong Projects URL (the former v22.0.0 base) raises listing_not_found', async () => {
    const { a, token } = setup();
    a.upsertProject({});
    const wrong = createEconomicClient({ restUrl: fake.restUrl, projectsUrl: `${fake.restUrl}/api/v22.0.0`, appSecretToken: fake.appSecretToken, grantToken: token });
    const e = await rejects(collect(wrong.projects()));
    assert.equal(e.kind, 'listing_not_found');
    assert.equal(e.api, 'projects');
    assert.equal(e.resource, 'projects');
    assert.match(e.message, /Projects API base URL or path is wrong/);
    assert.equal(await wrong.getProject(1), null);
  });
});

void describe('pacing faults of the fake, seen by the client', () => {
  void it('a per-agreement rate limit: 429 with Retry-After as retryAfterMs, other agreements unaffected', async () => {
    const { client, token } = setup();
    const { client: other } = setup();
    fake.setRateLimit({ calls: 3, windowMs: 60_000 }, token);
    try {
      for (let i = 0; i < 3; i++) await client.getSelf();
      const e = await rejects(client.getSelf());
      assert.equal(e.kind, 'rate_limited');
      assert.equal(e.retryable, true);
      assert.ok(e.retryAfterMs !== undefined && e.retryAfterMs >= 1000 && e.retryAfterMs <= 60_000, `retryAfterMs ${e.retryAfterMs}`);
      const p = await rejects(client.getProject(1));
      assert.equal(p.kind, 'rate_limited', 'the Projects API shares the agreement budget');
      assert.equal(p.api, 'projects');
      for (let i = 0; i < 5; i++) await other.getSelf();
    } finally {
      fake.setRateLimit(null, token);
    }
    assert.ok((await client.getSelf()).agreementNumber);
  });

  void it('latency longer than the client timeout is a transient timeout', async () => {
    const slow = await startFakeEconomic({ latency: 400 });
    try {
      const { client } = setup({ timeoutMs: 100 }, slow);
      const e = await rejects(client.getSelf());
      assert.equal(e.kind, 'transient');
      assert.match(e.message, /timed out after 100 ms/);
      slow.setLatency(undefined);
      assert.ok((await client.getSelf()).agreementNumber);
    } finally {
      await slow.close();
    }
  });
});

void describe('filter builder', () => {
  void it('builds e-conomic filter expressions', () => {
    assert.equal(filters.lastUpdatedAfter(new Date('2026-01-01T00:00:00.123Z')), 'lastUpdated$gt:2026-01-01T00:00:00Z');
    assert.equal(filters.lastUpdatedAfter('2026-01-01T00:00:00Z'), 'lastUpdated$gt:2026-01-01T00:00:00Z');
    assert.equal(filters.numberRange('orderNumber', 10, 20), 'orderNumber$gte:10$and:orderNumber$lte:20');
    assert.equal(filters.numberRange('orderNumber', 10), 'orderNumber$gte:10');
    assert.equal(filters.in('orderNumber', [1, 2, 3]), 'orderNumber$in:[1,2,3]');
    assert.equal(filters.and(filters.eq('name', 'A,B (x)'), undefined), 'name$eq:A$,B $(x$)');
    assert.equal(filters.or(filters.eq('a', 1), filters.eq('b', 2)), 'a$eq:1$or:b$eq:2');
  });
});

// Keep the Page type exercised for consumers' sake.
const _typecheck: Page<number> = { items: [1], skipPages: 0, pageSize: 1, results: 1 };
void _typecheck;
