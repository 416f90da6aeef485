// The webhook (docs/webhook.md) against a real Temporal dev server and a real Postgres: every APISource
// reaches its entity workflow, every error answer, tenant isolation, revocation, fuzzing, a burst, and
// no secret in logs, histories or answers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { eq, inArray, sql } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { revokeApiKey } from '../src/access/api-keys';
import { loadGrant, pendingCandidates } from '../src/access/grants';
import { queryRows } from '../src/db/client';
import { syncEvents } from '../src/db/schema';
import { createSecretBox } from '../src/secrets/secret-box';
import { API_SOURCES, SOURCE_KIND } from '../src/shared/entities';
import { createApiKey } from './helpers/api-keys';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { assertDelivered, changeSignals, historyText } from './helpers/history';
import { startTestTemporal, uniqueTaskQueue, type TestTemporal } from './helpers/temporal';
import { registerSecret } from './helpers/test-logs';
import { startTestWebhook, waitFor, type TestWebhook } from './helpers/webhook';

let temporal: TestTemporal;
let database: TestDatabase;
let webhook: TestWebhook;
let keyA: string;
let keyB: string;
const GRANT_A = `grant-A-${randomBytes(12).toString('hex')}`;
const GRANT_B = `grant-B-${randomBytes(12).toString('hex')}`;
const APP_SECRET = `app-secret-${randomBytes(12).toString('hex')}`;
registerSecret('grant-token', GRANT_A);
registerSecret('grant-token', `${GRANT_A}-rotated`);
registerSecret('grant-token', GRANT_B);
registerSecret('app-secret', APP_SECRET);
/** Every answer body seen, for the no-secret check at the end. */
const answers: string[] = [];
const workflowsSeen = new Set<string>();

before(async () => {
  [temporal, database] = await Promise.all([startTestTemporal(), createTestDatabase()]);
  keyA = (await createApiKey(database.db, { tenant: 'tenant-a', description: 'A' })).key;
  keyB = (await createApiKey(database.db, { tenant: 'tenant-b' })).key;
  webhook = await startTestWebhook({ db: database.db, client: temporal.env.client, taskQueue: uniqueTaskQueue('webhook') });
});

after(async () => {
  await webhook?.close();
  await temporal?.shutdown();
  await database?.drop();
});

async function post(options: {
  key?: string | null;
  source?: string | null;
  body?: unknown;
  payload?: string | Buffer;
  contentType?: string | null;
  path?: string;
}): Promise<LightMyRequestResponse> {
  const query = new URLSearchParams();
  if (options.key !== null) query.set('APIKey', options.key ?? keyA);
  if (options.source !== null) query.set('APISource', options.source ?? 'eConomicOrder');
  const headers: Record<string, string> = {};
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  const payload = options.payload ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await webhook.app.inject({ method: 'POST', url: `${options.path ?? '/'}?${query.toString()}`, headers, payload });
  answers.push(response.body);
  return response;
}

function accepted(response: LightMyRequestResponse): { eventId: string; workflowId: string } {
  assert.equal(response.statusCode, 202, response.body);
  const body = response.json<{ eventId: string; workflowId: string }>();
  workflowsSeen.add(body.workflowId);
  return body;
}

function problem(response: LightMyRequestResponse, status: number, error?: string): { error: string; message: string } {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /application\/json/);
  const body = response.json<{ error: string; message: string }>();
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.message, 'string');
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message']);
  if (error) assert.equal(body.error, error);
  return body;
}

describe('accepted events reach their entity workflow', () => {
  test('each APISource signals economic/<tenant>/<kind>/<number> and is recorded in sync_events', async () => {
    let number = 100;
    for (const source of API_SOURCES) {
      number += 1;
      const response = await post({ source, body: { eConomicAPIKey: GRANT_A, number: String(number) } });
      const { eventId, workflowId } = accepted(response);
      assert.equal(workflowId, `economic/tenant-a/${SOURCE_KIND[source]}/${number}`);
      const signals = await changeSignals(temporal.env.client, workflowId);
      assert.deepEqual(
        signals.map((s) => [s.eventId, s.source]),
        [[eventId, source]],
      );
      const description = await temporal.env.client.workflow.getHandle(workflowId).describe();
      assert.equal(description.searchAttributes.EconomicTenant?.[0], 'tenant-a');
      assert.equal(description.searchAttributes.EconomicSource?.[0], source);
      assert.equal(description.searchAttributes.EconomicNumber?.[0], number);
    }
    await webhook.pipeline.eventLog.flush();
    const rows = await database.db.select().from(syncEvents).where(sql`${syncEvents.number} between 101 and 105`);
    assert.equal(rows.length, 5);
    for (const row of rows) {
      assert.equal(row.outcome, 'signalled');
      assert.equal(row.kind, SOURCE_KIND[row.source as keyof typeof SOURCE_KIND]);
      assert.equal(row.workflowId, `economic/tenant-a/${row.kind}/${row.number}`);
      assert.ok(row.receivedAt instanceof Date);
    }
  });

  test('number as a JSON number, oldNumber, the alias path and a form body', async () => {
    const asNumber = accepted(await post({ source: 'eConomicInvoicePosted', body: { eConomicAPIKey: GRANT_A, number: 201 } }));
    assert.equal(asNumber.workflowId, 'economic/tenant-a/booked-invoice/201');

    const renumbered = accepted(await post({ source: 'eConomicOffer', body: { eConomicAPIKey: GRANT_A, number: '202', oldNumber: '199' } }));
    const [signal] = await changeSignals(temporal.env.client, renumbered.workflowId);
    assert.equal(signal?.oldNumber, 199);
    assert.equal(signal?.eventId, renumbered.eventId);
    assert.ok(!Number.isNaN(Date.parse(signal?.receivedAt ?? '')));

    const alias = accepted(await post({ path: '/webhooks/economic', source: 'eConomicProject', body: { eConomicAPIKey: GRANT_A, number: 203 } }));
    assert.equal(alias.workflowId, 'economic/tenant-a/project/203');

    const form = accepted(
      await post({
        source: 'eConomicInvoiceDraft',
        contentType: 'application/x-www-form-urlencoded',
        payload: new URLSearchParams({ eConomicAPIKey: GRANT_A, number: '204', oldNumber: '[OLDNUMBER]'.replace('[OLDNUMBER]', '17') }).toString(),
      }),
    );
    assert.equal(form.workflowId, 'economic/tenant-a/draft-invoice/204');
    assert.equal((await changeSignals(temporal.env.client, form.workflowId))[0]?.oldNumber, 17);

    const charset = accepted(await post({ contentType: 'application/json; charset=utf-8', body: { eConomicAPIKey: GRANT_A, number: 205 } }));
    assert.equal(charset.workflowId, 'economic/tenant-a/order/205');
  });

  test('the grant token is stored encrypted as a candidate: a webhook never replaces the grant in use', async () => {
    const box = createSecretBox(webhook.secretsKey);
    const [tenant] = await queryRows<{ id: number }>(database.db, sql`select id from tenants where name = 'tenant-a'`);
    assert.ok(tenant);
    const candidates = async () => (await pendingCandidates(database.db, box, tenant.id)).map((c) => c.token).sort();
    assert.deepEqual(await candidates(), [GRANT_A]);
    assert.equal((await loadGrant(database.db, box, tenant.id))?.token, undefined, 'nothing in use before GET /self verified it');
    const raw = JSON.stringify(await database.db.execute(sql`select * from grant_candidates`));
    assert.ok(!raw.includes(GRANT_A), 'grant stored in clear');
    const newGrant = `${GRANT_A}-rotated`;
    accepted(await post({ body: { eConomicAPIKey: newGrant, number: 206 } }));
    assert.deepEqual(await candidates(), [GRANT_A, newGrant].sort(), 'a second token waits beside the first, it pushes nothing out');
    accepted(await post({ body: { eConomicAPIKey: GRANT_A, number: 207 } }));
    assert.deepEqual(await candidates(), [GRANT_A, newGrant].sort(), 'the same token is stored once');
  });
});

describe('error answers (docs/webhook.md)', () => {
  test('400 unknown or missing APISource lists the five', async () => {
    for (const source of ['eConomicCustomer', null, '']) {
      const body = problem(await post({ source, body: { eConomicAPIKey: GRANT_A, number: 1 } }), 400, 'invalid_api_source');
      for (const known of API_SOURCES) assert.ok(body.message.includes(known), body.message);
      assert.match(body.message, /APISource/);
    }
  });

  test('400 missing eConomicAPIKey names the field', async () => {
    for (const body of [{ number: 1 }, { eConomicAPIKey: '', number: 1 }, { eConomicAPIKey: null, number: 1 }]) {
      assert.match(problem(await post({ body }), 400, 'missing_economic_api_key').message, /eConomicAPIKey/);
    }
    assert.match(problem(await post({ body: { eConomicAPIKey: 42, number: 1 } }), 400).message, /eConomicAPIKey/);
  });

  test('400 number not a positive integer names the field', async () => {
    for (const number of [0, -1, 1.5, '1.5', 'abc', '-3', 2 ** 31, '99999999999999999999', 1e300, true, [1], { n: 1 }, '0x10']) {
      assert.match(problem(await post({ body: { eConomicAPIKey: GRANT_A, number } }), 400).message, /"number"/, JSON.stringify(number));
    }
    assert.match(problem(await post({ body: { eConomicAPIKey: GRANT_A } }), 400, 'missing_number').message, /"number"/);
    assert.match(problem(await post({ body: { eConomicAPIKey: GRANT_A, number: 5, oldNumber: 'x' } }), 400, 'invalid_old_number').message, /oldNumber/);
  });

  test('400 unsubstituted placeholder says the webhook "Sent data" is wrong', async () => {
    for (const body of [
      { eConomicAPIKey: GRANT_A, number: '[NEWNUMBER]' },
      { eConomicAPIKey: GRANT_A, number: '[INVOICENO]' },
      { eConomicAPIKey: GRANT_A, number: '5', oldNumber: '[OLDNUMBER]' },
    ]) {
      const answer = problem(await post({ body }), 400, 'unsubstituted_placeholder');
      assert.match(answer.message, /Sent data/);
    }
  });

  test('401 for a missing, malformed, unknown or revoked key: one identical answer, before the body is judged', async () => {
    const revoked = (await createApiKey(database.db, { tenant: 'tenant-a', description: 'to revoke' })).key;
    await revokeApiKey(database.db, revoked);
    const unknown = 'C5E6A287-1B4B-4EAF-AD57-2CF78A52927C';
    const bodies = new Set<string>();
    for (const key of [null, '', 'nonsense', unknown, unknown.toLowerCase(), revoked, `${keyA}x`]) {
      for (const body of [{ eConomicAPIKey: GRANT_A, number: 1 }, { number: '[NEWNUMBER]' }]) {
        const response = await post({ key, body, source: 'bogus' });
        problem(response, 401, 'unauthorized');
        bodies.add(response.body);
      }
    }
    // Also before a 415 or 413.
    problem(await post({ key: unknown, contentType: 'text/plain', payload: 'x' }), 401, 'unauthorized');
    problem(await post({ key: unknown, payload: 'x'.repeat(20 * 1024) }), 401, 'unauthorized');
    assert.equal(bodies.size, 1);
  });

  test('a revoked key is refused from the very next request', async () => {
    const key = (await createApiKey(database.db, { tenant: 'tenant-a', description: 'short-lived' })).key;
    accepted(await post({ key, body: { eConomicAPIKey: GRANT_A, number: 301 } }));
    await revokeApiKey(database.db, key);
    problem(await post({ key, body: { eConomicAPIKey: GRANT_A, number: 302 } }), 401, 'unauthorized');
  });

  test('413 over 16 KiB, 415 other content types', async () => {
    const big = JSON.stringify({ eConomicAPIKey: GRANT_A, number: 1, pad: 'x'.repeat(17 * 1024) });
    problem(await post({ payload: big }), 413, 'payload_too_large');
    for (const contentType of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream', null]) {
      problem(await post({ contentType, payload: JSON.stringify({ eConomicAPIKey: GRANT_A, number: 1 }) }), 415, 'unsupported_media_type');
    }
    problem(await post({ contentType: null }), 415, 'unsupported_media_type');
  });

  test('400 for a body that is not JSON, without quoting it', async () => {
    const response = await post({ payload: `{"eConomicAPIKey":"${GRANT_A}", broken` });
    problem(response, 400, 'invalid_body');
    assert.ok(!response.body.includes(GRANT_A));
    problem(await post({ payload: '' }), 400);
    problem(await post({ payload: '[1,2]' }), 400, 'invalid_body');
    problem(await post({ payload: '"text"' }), 400, 'invalid_body');
    problem(await post({ payload: '{"__proto__":{"x":1},"eConomicAPIKey":"g","number":1}' }), 400);
  });

  test('429 over a key\'s rate limit, with Retry-After; other keys unaffected', async () => {
    const limited = await startTestWebhook({ db: database.db, client: temporal.env.client, taskQueue: uniqueTaskQueue('rl'), limits: { perKey: 3, perKeyWindowMs: 60_000 } });
    try {
      const send = (key: string, number: number) =>
        limited.app.inject({
          method: 'POST',
          url: `/?APIKey=${key}&APISource=eConomicOrder`,
          headers: { 'content-type': 'application/json' },
          payload: { eConomicAPIKey: GRANT_A, number },
        });
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await send(keyA, 400 + i)).statusCode);
      assert.deepEqual(codes, [202, 202, 202, 429, 429]);
      const limitedAnswer = await send(keyA, 410);
      problem(limitedAnswer, 429, 'rate_limited');
      const retryAfter = Number(limitedAnswer.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}: within the key's window`);
      assert.equal((await send(keyB, 411)).statusCode, 202);
    } finally {
      await limited.close();
    }
  });
});

describe('tenants are isolated', () => {
  test("tenant A's key only ever reaches tenant A's workflows and rows", async () => {
    const a = accepted(await post({ key: keyA, source: 'eConomicOrder', body: { eConomicAPIKey: GRANT_A, number: 500 } }));
    const b = accepted(await post({ key: keyB, source: 'eConomicOrder', body: { eConomicAPIKey: GRANT_B, number: 500 } }));
    assert.equal(a.workflowId, 'economic/tenant-a/order/500');
    assert.equal(b.workflowId, 'economic/tenant-b/order/500');
    assert.deepEqual((await changeSignals(temporal.env.client, a.workflowId)).map((s) => s.eventId), [a.eventId]);
    assert.deepEqual((await changeSignals(temporal.env.client, b.workflowId)).map((s) => s.eventId), [b.eventId]);
    await webhook.pipeline.eventLog.flush();
    const rows = await queryRows<{ event_id: string; name: string }>(database.db, sql`
      select e.event_id, t.name from sync_events e join tenants t on t.id = e.tenant_id where e.event_id in (${a.eventId}, ${b.eventId})`);
    const byEvent = Object.fromEntries(rows.map((r) => [r.event_id, r.name]));
    assert.deepEqual(byEvent, { [a.eventId]: 'tenant-a', [b.eventId]: 'tenant-b' });
    // The body cannot pick a tenant.
    const sneaky = accepted(await post({ key: keyA, body: { eConomicAPIKey: GRANT_A, number: 501, tenant: 'tenant-b', tenantId: 2 } }));
    assert.equal(sneaky.workflowId, 'economic/tenant-a/order/501');
    const mixed = await queryRows<{ n: number }>(database.db, sql`
      select count(*)::int as n from sync_events e join tenants t on t.id = e.tenant_id
       where e.workflow_id not like 'economic/' || t.name || '/%'`);
    assert.equal(mixed[0]?.n, 0);
  });
});

function httpPost(url: string, body: string, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('robustness', () => {
  test('fuzz: thousands of malformed requests, never a 5xx, always the JSON error shape', async () => {
    let seed = 1234567;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
    const values: unknown[] = [
      undefined, null, true, false, 0, -1, 1, 1.5, 2 ** 31, 2 ** 53 + 1, 1e308, -0, '', ' ', '1', ' 7 ', '007', '1e3', '0x1F', 'NaN',
      'Infinity', '[NEWNUMBER]', '[INVOICENO]', '[OLDNUMBER]', '[x]', [], [1], {}, { a: 1 }, 'x'.repeat(3000), '\u0000', '😀', '99999999999999999999999',
    ];
    const contentTypes = ['application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=latin1', 'APPLICATION/JSON', 'application/jsonx', '', 'multipart/form-data', 'application/xml', null];
    const sources: (string | null)[] = [...API_SOURCES, 'x', '', null, 'eConomicorder', 'eConomicOrder '];
    let status5xx = 0;
    let accepted202 = 0;
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const mode = rand();
      let payload: string | Buffer;
      if (mode < 0.2) {
        payload = randomBytes(Math.floor(rand() * 300));
      } else if (mode < 0.3) {
        const pairs: [string, string][] = [
          ['eConomicAPIKey', String(pick(values))],
          ['number', String(pick(values))],
        ];
        if (rand() < 0.3) pairs.push(['number', '2']);
        payload = new URLSearchParams(pairs).toString();
      } else {
        const body: Record<string, unknown> = {};
        if (rand() < 0.8) body.eConomicAPIKey = rand() < 0.5 ? GRANT_A : pick(values);
        if (rand() < 0.8) body.number = pick(values);
        if (rand() < 0.3) body.oldNumber = pick(values);
        payload = rand() < 0.1 ? JSON.stringify([body]) : rand() < 0.05 ? JSON.stringify(body).slice(0, -1) : JSON.stringify(body);
      }
      const key = rand() < 0.85 ? keyA : pick([null, '', 'x', keyB.slice(0, 8), randomBytes(16).toString('hex')]);
      const response = await post({ key, source: pick(sources), contentType: pick(contentTypes), payload });
      if (response.statusCode >= 500) status5xx += 1;
      if (response.statusCode === 202) {
        accepted202 += 1;
        workflowsSeen.add(response.json<{ workflowId: string }>().workflowId);
      } else {
        const body = response.json<{ error: string; message: string }>();
        assert.equal(typeof body.error, 'string', response.body);
        assert.equal(typeof body.message, 'string', response.body);
      }
      assert.ok([202, 400, 401, 413, 415].includes(response.statusCode), `${response.statusCode} ${response.body}`);
    }
    assert.equal(status5xx, 0);
    assert.ok(accepted202 > 0, 'some fuzzed requests are valid');
  });

  test('a burst of concurrent requests over real HTTP: every one answered, every 202 in Temporal', async () => {
    const address = await webhook.app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
    const N = 2000;
    // Many sockets at once (a keep-alive pool of 500): the server sees thousands of requests in flight.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 500 });
    const results = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const source = API_SOURCES[i % API_SOURCES.length]!;
        const response = await httpPost(`${address}/?APIKey=${i % 2 ? keyA : keyB}&APISource=${source}`, JSON.stringify({ eConomicAPIKey: i % 2 ? GRANT_A : GRANT_B, number: 1000 + (i % 100) }), agent);
        return { status: response.status, body: JSON.parse(response.body) as { eventId: string; workflowId: string } };
      }),
    );
    agent.destroy();
    assert.equal(results.length, N);
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    assert.deepEqual([...statuses.keys()], [202], JSON.stringify([...statuses]));
    // Queued ones (if the burst overflowed the signal queue) are relayed: wait for an empty inbox.
    await waitFor('the inbox to drain', async () => {
      const rows = await database.db.select({ seq: syncEvents.seq }).from(syncEvents).where(eq(syncEvents.outcome, 'queued'));
      return rows.length === 0;
    });
    for (const r of results) workflowsSeen.add(r.body.workflowId);
    await webhook.pipeline.eventLog.flush();
    const recorded = await database.db.select().from(syncEvents).where(inArray(syncEvents.eventId, results.map((r) => r.body.eventId)));
    assert.equal(recorded.length, N);
    // Every 202 reached its workflow, once; the ones that went through the inbox possibly coalesced.
    for (const workflowId of new Set(results.map((r) => r.body.workflowId))) {
      await assertDelivered(temporal.env.client, workflowId, recorded.filter((r) => r.workflowId === workflowId));
    }
  });

  test('metrics report events by source and outcome, latency and inbox depth; the webhook port does not serve them', async () => {
    const text = await webhook.metrics.registry.metrics();
    assert.match(text, /economic_sync_webhook_events_total\{source="eConomicOrder",outcome="signalled"\} \d+/);
    assert.match(text, /economic_sync_webhook_events_total\{source="unknown",outcome="unauthorized"\} \d+/);
    assert.match(text, /economic_sync_webhook_acceptance_seconds_count \d+/);
    assert.match(text, /economic_sync_inbox_depth \d+/);
    problem(await webhook.app.inject({ method: 'GET', url: '/metrics' }), 404, 'not_found');
  });
});

describe('secrets', () => {
  test('no grant token, API key or app secret in logs, Temporal histories or answers', async () => {
    const secrets = [GRANT_A, GRANT_B, keyA, keyB, keyA.toLowerCase(), APP_SECRET];
    const logText = webhook.logs.join('');
    assert.ok(logText.includes('webhook event accepted'), 'logs were captured');
    assert.ok(/"eventId":"[0-9a-f-]{36}"/.test(logText), 'logs carry the event id');
    const histories: string[] = [];
    for (const workflowId of [...workflowsSeen].slice(0, 400)) histories.push(await historyText(temporal.env.client, workflowId));
    const historyBlob = histories.join('\n');
    assert.ok(historyBlob.includes('eventId'), 'histories were decoded');
    const answerBlob = answers.join('\n');
    for (const secret of secrets) {
      assert.ok(!logText.includes(secret), 'a secret appears in the logs');
      assert.ok(!historyBlob.includes(secret), 'a secret appears in a Temporal history');
      assert.ok(!answerBlob.includes(secret), 'a secret appears in an answer');
    }
  });
});
