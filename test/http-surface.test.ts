// The webhook port's surface as an attacker and a misconfigured client meet it (docs/webhook.md,
// docs/configuration.md), against a real Temporal dev server and a real Postgres: 404/405 in the JSON
// shape without the URL, a 10,000-request fuzz (every method, unknown paths, real API keys in queries and
// paths, random bodies, content types and headers) plus raw malformed HTTP over a socket, slow clients
// cut off by the timeouts, failed authentications limited per client address before any database query,
// TRUST_PROXY off and on, and the grant token's character rule.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { revokeApiKey } from '../src/access/api-keys';
import { pendingCandidates } from '../src/access/grants';
import { openDatabase, queryRows, type DatabaseHandle } from '../src/db/client';
import { createSecretBox } from '../src/secrets/secret-box';
import { API_SOURCES } from '../src/shared/entities';
import { createApiKey } from './helpers/api-keys';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy';
import { startTestTemporal, uniqueTaskQueue, type TestTemporal } from './helpers/temporal';
import { registerSecret } from './helpers/test-logs';
import { startTestWebhook, type TestWebhook } from './helpers/webhook';

let temporal: TestTemporal;
let database: TestDatabase;
let webhook: TestWebhook;
let keyA: string;
let keyB: string;
let revokedKey: string;
const GRANT_A = `grant-A-${randomBytes(12).toString('hex')}`;
const GRANT_B = `grant-B-${randomBytes(12).toString('hex')}`;
registerSecret('grant-token', GRANT_A);
registerSecret('grant-token', GRANT_B);
const webhooks: TestWebhook[] = [];

before(async () => {
  [temporal, database] = await Promise.all([startTestTemporal(), createTestDatabase()]);
  keyA = (await createApiKey(database.db, { tenant: 'surface-a' })).key;
  keyB = (await createApiKey(database.db, { tenant: 'surface-b' })).key;
  revokedKey = (await createApiKey(database.db, { tenant: 'surface-a', description: 'revoked' })).key;
  await revokeApiKey(database.db, revokedKey);
  webhook = await open({});
});

after(async () => {
  for (const w of webhooks) await w.close();
  await temporal?.shutdown();
  await database?.drop();
});

/** A webhook server as the service builds it, with the production defaults unless `env` says otherwise. */
async function open(options: { env?: Record<string, string>; db?: DatabaseHandle; startRelay?: boolean; limits?: Parameters<typeof startTestWebhook>[0]['limits'] }): Promise<TestWebhook> {
  const opened = await startTestWebhook({
    db: (options.db ?? database).db,
    client: temporal.env.client,
    taskQueue: uniqueTaskQueue('surface'),
    env: options.env,
    // Production's limits (loadConfig's defaults) unless a test narrows them.
    limits: { perKey: 150_000, perKeyWindowMs: 900_000, authFailures: 30, authFailureWindowMs: 60_000, ...options.limits },
    startRelay: options.startRelay,
  });
  webhooks.push(opened);
  return opened;
}

function secrets(): string[] {
  return [keyA, keyB, revokedKey, GRANT_A, GRANT_B];
}

/** Fails when any secret appears in the text, in any case (keys are accepted in any case). */
function assertNoSecret(text: string, context: string): void {
  const lower = text.toLowerCase();
  for (const secret of secrets()) assert.ok(!lower.includes(secret.toLowerCase()), `a secret appears in ${context}`);
}

function assertProblem(response: LightMyRequestResponse, status: number, error: string): void {
  assert.equal(response.statusCode, status, response.body);
  if (response.body === '') return; // HEAD
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = response.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message']);
  assert.equal(body.error, error);
  assert.equal(typeof body.message, 'string');
}

/** Small, seeded, reproducible randomness (mulberry32). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sends raw bytes on a fresh socket and collects everything the server writes until it closes the socket. */
function rawExchange(port: number, chunks: Array<Buffer | string>, options: { gapMs?: number; halfClose?: boolean } = {}): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    // The test's own bound: a server that never closes the socket fails here instead of hanging.
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept the socket open'));
    }, 30_000);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      resolve({ text: Buffer.concat(received).toString('latin1'), closedAfterMs: Date.now() - started });
    });
    socket.on('connect', () => {
      let index = 0;
      const next = () => {
        if (socket.destroyed) return;
        if (index >= chunks.length) {
          if (options.halfClose) socket.end();
          return;
        }
        socket.write(chunks[index++]!);
        timer = setTimeout(next, options.gapMs ?? 0);
      };
      next();
    });
  });
}

function statusOf(raw: string): number | undefined {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  return match ? Number(match[1]) : undefined;
}

describe('404 and 405 in the contract\'s JSON shape, never echoing the URL', () => {
  test('every method other than POST on / and /webhooks/economic is a 405 with Allow: POST', async () => {
    for (const path of ['/', '/webhooks/economic']) {
      for (const method of http.METHODS.filter((m) => m !== 'POST' && m !== 'CONNECT')) {
        const response = await webhook.app.inject({ method: method as 'GET', url: `${path}?APIKey=${keyA}&APISource=eConomicOrder` });
        assertProblem(response, 405, 'method_not_allowed');
        assert.equal(response.headers.allow, 'POST', `${method} ${path}`);
        assertNoSecret(response.body + JSON.stringify(response.headers), `${method} ${path}`);
      }
    }
  });

  test('unknown paths are a 404 for every method; other methods on /healthz a 405 with Allow: GET, HEAD', async () => {
    for (const url of [`/nope?APIKey=${keyA}`, `/webhooks/economic/x?APIKey=${keyA}`, `/${keyA}`, `/webhooks?APIKey=${keyA}&APISource=eConomicOrder`, '/metrics']) {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
        const response = await webhook.app.inject({ method, url, headers: { 'content-type': 'application/json' }, payload: method === 'GET' ? undefined : '{"broken' });
        assertProblem(response, 404, 'not_found');
        assertNoSecret(response.body + JSON.stringify(response.headers), `${method} ${url}`);
      }
    }
    const post = await webhook.app.inject({ method: 'POST', url: '/healthz' });
    assertProblem(post, 405, 'method_not_allowed');
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await webhook.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await webhook.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });

  test('a URL that cannot be decoded is a 400 in the JSON shape, without the path', async () => {
    for (const url of [`/%E0%A4%A${keyA}`, `/%${keyA}?APIKey=${keyA}`, `/webhooks/%ZZ${keyA}`]) {
      const response = await webhook.app.inject({ method: 'GET', url });
      assert.ok([400, 404].includes(response.statusCode), `${response.statusCode} for ${url}`);
      assert.deepEqual(Object.keys(response.json<object>()).sort(), ['error', 'message']);
      assertNoSecret(response.body, url);
    }
  });

  test('no log line of these requests holds the key', () => {
    assert.ok(webhook.logs.some((line) => line.includes('"route":"(none)"')), 'unmatched requests were logged, by route only');
    assertNoSecret(webhook.logs.join(''), 'the logs');
  });

  test('a webhook request is one log line with its answer and outcome; other routes keep Fastify request lines', async () => {
    const own = await open({});
    const post = (key: string, number: string) =>
      own.app.inject({ method: 'POST', url: `/?APIKey=${key}&APISource=eConomicOrder`, payload: { eConomicAPIKey: GRANT_A, number } });
    assert.equal((await post(keyA, '4711')).statusCode, 202);
    assert.equal((await post(`${keyA.slice(0, -4)}0000`, '4712')).statusCode, 401);
    assert.equal((await post(keyA, 'not-a-number')).statusCode, 400);
    assert.equal((await own.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const lines = own.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const webhookLines = lines.filter((l) => l.route === '/' || (l.req as { route?: string } | undefined)?.route === '/');
    assert.deepEqual(
      webhookLines.map((l) => [l.msg, l.statusCode, l.outcome]),
      [
        ['webhook event accepted', 202, 'signalled'],
        ['webhook answered', 401, 'unauthorized'],
        ['webhook answered', 400, 'invalid'],
      ],
    );
    const accepted = webhookLines[0] as Record<string, unknown>;
    assert.equal(accepted.method, 'POST');
    assert.equal(accepted.tenant, 'surface-a');
    assert.equal(accepted.number, 4711);
    assert.match(String(accepted.eventId), /^[0-9a-f-]{36}$/);
    assert.equal(typeof accepted.responseTime, 'number');
    assert.equal(typeof accepted.remoteAddress, 'string');
    const health = lines.filter((l) => (l.req as { route?: string } | undefined)?.route === '/healthz' || (l.res as object | undefined) !== undefined);
    assert.deepEqual(health.map((l) => l.msg), ['incoming request', 'request completed']);
    assertNoSecret(own.logs.join(''), 'the webhook lines');
  });
});

describe('fuzz', () => {
  test('10,000 requests: every method, unknown paths, real keys in queries and paths, random bodies, types and headers', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20261128);
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const unknownKey = 'C5E6A287-1B4B-4EAF-AD57-2CF78A52927C';
    const keys = [keyA, keyB, keyA.toLowerCase(), ` ${keyB} `, revokedKey, unknownKey, 'nonsense', '', randomBytes(16).toString('hex')];
    const grants = [GRANT_A, GRANT_B, `${GRANT_A}\r\n`, `${GRANT_A}\u0000`, ` ${GRANT_B}`, 'tab\there', 'ünïcode', '[NEWNUMBER]', '', 'x'.repeat(3000)];
    const numbers: unknown[] = [1, '2', 3.5, -4, '[NEWNUMBER]', '[INVOICENO]', 2 ** 31, '0x10', null, [], {}, true, '1e3', ' 77 ', 'NaN'];
    const paths = () =>
      pick([
        '/', '/', '/', '/webhooks/economic', '/webhooks/economic/', '//', '/healthz', '/readyz', '/metrics', '/webhooks',
        `/${keyA}`, `/APIKey=${keyB}`, `/webhooks/economic;APIKey=${keyA}`, `/%E0%A4%A${keyA}`, `/%${keyB}`, '/..%2F..%2Fetc/passwd', '/.env',
        `/${randomBytes(6).toString('base64url')}`,
      ]);
    const contentTypes = ['application/json', 'application/json', 'application/x-www-form-urlencoded', 'APPLICATION/JSON; charset=utf-8', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/jsonx', '', undefined];
    const addresses = ['127.0.0.1', '10.0.0.7', '192.0.2.1', '198.51.100.23', '203.0.113.9', '::1', '2001:db8::1', '2001:db8::2'];
    const allowed = new Set([200, 202, 400, 401, 404, 405, 413, 415, 429]);
    const statuses = new Map<number, number>();

    const body = (): string | Buffer | undefined => {
      const mode = random();
      if (mode < 0.45) {
        const fields: Record<string, unknown> = {};
        if (random() < 0.9) fields.eConomicAPIKey = random() < 0.6 ? pick([GRANT_A, GRANT_B]) : pick(grants);
        if (random() < 0.9) fields.number = random() < 0.6 ? Math.floor(random() * 50) + 1 : pick(numbers);
        if (random() < 0.2) fields.oldNumber = pick(numbers);
        const json = JSON.stringify(random() < 0.05 ? [fields] : fields);
        return random() < 0.1 ? json.replace('{', '{"__proto__":{"polluted":true},') : json;
      }
      if (mode < 0.6) return new URLSearchParams({ eConomicAPIKey: pick(grants), number: String(pick(numbers)) }).toString();
      if (mode < 0.75) return randomBytes(Math.floor(random() * 400));
      if (mode < 0.8) return `{"eConomicAPIKey":"${GRANT_A}","number":`; // truncated JSON quoting a grant
      if (mode < 0.85) return JSON.stringify({ eConomicAPIKey: GRANT_B, pad: 'x'.repeat(17 * 1024) }); // over 16 KiB
      if (mode < 0.88) return '['.repeat(5000) + ']'.repeat(5000);
      return undefined;
    };

    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      const query = new URLSearchParams();
      if (random() < 0.85) query.append('APIKey', random() < 0.5 ? pick([keyA, keyB]) : pick(keys));
      if (random() < 0.05) query.append('APIKey', pick(keys));
      if (random() < 0.9) query.append('APISource', random() < 0.7 ? pick(API_SOURCES) : pick(['x', '', 'eConomicorder', 'eConomicOrder ', '[APISOURCE]']));
      if (random() < 0.05) query.append('eConomicAPIKey', pick(grants));
      const method = random() < 0.6 ? 'POST' : pick(http.METHODS.filter((m) => m !== 'CONNECT'));
      const headers: Record<string, string> = {};
      const contentType = pick(contentTypes);
      if (contentType !== undefined) headers['content-type'] = contentType;
      if (random() < 0.1) headers['x-forwarded-for'] = `${pick(addresses)}, ${pick(addresses)}`;
      if (random() < 0.05) headers['x-api-key'] = pick(keys);
      if (random() < 0.05) headers['content-encoding'] = 'gzip';
      if (random() < 0.05) headers.accept = 'text/html';
      const url = `${paths()}?${query.toString()}`;
      const payload = method === 'GET' || method === 'HEAD' ? undefined : body();
      const response = await webhook.app.inject({ method: method as 'POST', url, headers, payload, remoteAddress: pick(addresses) });
      const where = `request ${i} (FUZZ_SEED=${seed}): ${method} ${response.statusCode}`;
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      assert.ok(allowed.has(response.statusCode), `${where} ${response.body}`);
      assertNoSecret(response.body + JSON.stringify(response.headers), where);
      if (response.statusCode === 202) {
        accepted += 1;
      } else if (method !== 'HEAD' && response.statusCode >= 400) {
        const answer = response.json<Record<string, unknown>>();
        assert.deepEqual(Object.keys(answer).sort(), ['error', 'message'], where);
      }
    }
    assert.ok(accepted > 0, `some fuzzed requests are valid (FUZZ_SEED=${seed}): ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(405) ?? 0) > 0 && (statuses.get(404) ?? 0) > 0 && (statuses.get(429) ?? 0) > 0, JSON.stringify([...statuses]));
    assertNoSecret(webhook.logs.join(''), `the logs (FUZZ_SEED=${seed})`);
  });

  test('raw malformed HTTP over a socket: never a 5xx, never the key, the socket always closed', async () => {
    const raw = await open({ env: { HTTP_REQUEST_TIMEOUT: '2s', HTTP_HEADERS_TIMEOUT: '1s' } });
    const address = await raw.app.listen({ port: 0, host: '127.0.0.1' });
    const port = Number(new URL(address).port);
    const seed = Number(process.env.FUZZ_SEED ?? 20261128) + 1;
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const requests: Array<() => Array<string | Buffer>> = [
      () => [`${pick(['GET', 'FOO', 'G3T', 'POST', 'DELETE', ''])} /?APIKey=${keyA} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      () => [`GET /${keyA} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      () => [`POST /?APIKey=${keyA}&APISource=eConomicOrder HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n`],
      () => [`POST /?APIKey=${keyA} HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n`],
      () => [`GET /?APIKey=${keyA} HTTP/1.1\r\nHost: x\r\nX-Huge: ${'h'.repeat(20 * 1024)}\r\n\r\n`],
      () => [`POST /?APIKey=${keyA}&APISource=eConomicOrder HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZ\r\n${GRANT_A}\r\n0\r\n\r\n`],
      () => [`POST /?APIKey=${keyA}&APISource=eConomicOrder HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello`],
      () => [`GET /?APIKey=${keyA}\r\n\r\n`],
      () => ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
      () => [randomBytes(Math.floor(random() * 200) + 1)],
      () => [`GET /%E0%A4%A${keyA} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      () => [`POST /?APIKey=${keyA}&APISource=eConomicOrder HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"eConomicAPIKey":"${GRANT_A}"`],
    ];
    const seen = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const { text } = await rawExchange(port, pick(requests)(), { halfClose: random() < 0.5 });
      const status = statusOf(text);
      seen.set(String(status ?? 'none'), (seen.get(String(status ?? 'none')) ?? 0) + 1);
      assert.ok(status === undefined || status < 500, `raw request ${i} (FUZZ_SEED=${seed}): ${text.slice(0, 200)}`);
      assertNoSecret(text, `raw request ${i} (FUZZ_SEED=${seed})`);
    }
    assert.ok((seen.get('400') ?? 0) > 0, JSON.stringify([...seen]));
    assertNoSecret(raw.logs.join(''), 'the logs of raw requests');
  });
});

describe('slow clients', () => {
  let port: number;
  before(async () => {
    const slow = await open({ env: { HTTP_REQUEST_TIMEOUT: '1500ms', HTTP_HEADERS_TIMEOUT: '800ms', HTTP_KEEP_ALIVE_TIMEOUT: '500ms', HTTP_CONNECTION_TIMEOUT: '5s' } });
    port = Number(new URL(await slow.app.listen({ port: 0, host: '127.0.0.1' })).port);
  });

  test('headers trickled a byte at a time (slowloris) are cut off at HTTP_HEADERS_TIMEOUT with a 408', async () => {
    const head = `POST /?APIKey=${keyA}&APISource=eConomicOrder HTTP/1.1\r\nHost: x\r\nX-Slow: ${'s'.repeat(200)}`;
    const { text, closedAfterMs } = await rawExchange(port, [...head], { gapMs: 50 });
    assert.equal(statusOf(text), 408, text);
    assert.match(text, /"error":"request_timeout"/);
    assertNoSecret(text, 'the 408');
    // The headers would take 50 ms × ~300 bytes = 15 s to arrive; the socket was closed long before.
    assert.ok(closedAfterMs < head.length * 50, `closed after ${closedAfterMs} ms`);
  });

  test('a body that never completes is cut off at HTTP_REQUEST_TIMEOUT with a 408', async () => {
    const { text } = await rawExchange(port, [
      `POST /?APIKey=${keyA}&APISource=eConomicOrder HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`,
      `{"eConomicAPIKey":"${GRANT_A}"`,
    ]);
    assert.equal(statusOf(text), 408, text);
    assertNoSecret(text, 'the 408');
  });

  test('a connection that sends nothing, and an idle keep-alive connection, are closed', async () => {
    const silent = await rawExchange(port, []);
    assert.ok(silent.text === '' || statusOf(silent.text) === 408, silent.text);
    const keptAlive = await rawExchange(port, ['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n']);
    assert.equal(statusOf(keptAlive.text), 200, keptAlive.text);
  });
});

describe('failed authentications limited per client address, before any database query', () => {
  test('over AUTH_FAILURE_LIMIT an address is refused without a query; known-good keys and other addresses pass', async () => {
    // Every query of this webhook passes through a counting proxy to the real Postgres.
    const proxy: TcpProxy = await startTcpProxy('127.0.0.1:5432');
    const url = new URL(database.url);
    url.host = proxy.address;
    const proxied = await openDatabase({ databaseUrl: url.toString(), dataDir: '/nonexistent', maxConnections: 2 });
    try {
      const limited = await open({ db: proxied, startRelay: false, limits: { authFailures: 5, authFailureWindowMs: 60_000 } });
      const send = (key: string, remoteAddress: string, headers: Record<string, string> = {}) =>
        limited.app.inject({
          method: 'POST',
          url: `/?APIKey=${key}&APISource=eConomicOrder`,
          headers: { 'content-type': 'application/json', ...headers },
          payload: { eConomicAPIKey: GRANT_A, number: 77 },
          remoteAddress,
        });
      // A key this process found valid earlier keeps working while its address is refused.
      assert.equal((await send(keyA, '198.51.100.7')).statusCode, 202);
      await limited.pipeline.eventLog.flush(); // its audit row is written now, not during the count below

      const unknown = () => `${randomBytes(4).toString('hex').toUpperCase()}-1B4B-4EAF-AD57-2CF78A52927C`;
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await send(unknown(), '198.51.100.7')).statusCode);
      assert.deepEqual(codes, [401, 401, 401, 401, 401]);

      const before = proxy.bytesToServer();
      for (let i = 0; i < 20; i++) {
        const refused = await send(unknown(), '198.51.100.7');
        assertProblem(refused, 429, 'rate_limited');
        const retryAfter = Number(refused.headers['retry-after']);
        assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      }
      assert.equal(proxy.bytesToServer(), before, 'a refused address caused no database traffic');

      assert.equal((await send(keyA, '198.51.100.7')).statusCode, 202, 'a recently valid key still passes from that address');
      assert.ok(proxy.bytesToServer() > before, 'and it is checked against the database as always');
      const elsewhere = proxy.bytesToServer();
      assert.equal((await send(unknown(), '198.51.100.8')).statusCode, 401, 'another address has its own allowance');
      assert.ok(proxy.bytesToServer() > elsewhere);
      // IPv6 clients are counted by /64: another address in the same /64 is the same client.
      for (let i = 0; i < 5; i++) await send(unknown(), '2001:db8:1:1::1');
      assert.equal((await send(unknown(), '2001:db8:1:1::ffff')).statusCode, 429);
      assert.equal((await send(unknown(), '2001:db8:1:2::1')).statusCode, 401);

      const text = await limited.metrics.registry.metrics();
      assert.match(text, /economic_sync_webhook_events_total\{source="eConomicOrder",outcome="auth_rate_limited"\} (\d+)/);
      assert.ok(limited.logs.some((line) => line.includes('over its failed-authentication limit')), 'the refusal is logged once, with the address');
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });

  test('TRUST_PROXY off (the default): X-Forwarded-For does not choose the address; on: it does, from the named proxies only', async () => {
    const attempt = (app: TestWebhook, forwardedFor: string, remoteAddress = '127.0.0.1') =>
      app.app.inject({
        method: 'POST',
        url: `/?APIKey=${randomBytes(4).toString('hex').toUpperCase()}-1B4B-4EAF-AD57-2CF78A52927C&APISource=eConomicOrder`,
        headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
        payload: { eConomicAPIKey: GRANT_A, number: 1 },
        remoteAddress,
      });
    const limits = { authFailures: 3, authFailureWindowMs: 60_000 };

    const off = await open({ limits });
    const offCodes = [];
    for (let i = 0; i < 5; i++) offCodes.push((await attempt(off, `203.0.113.${i + 1}`)).statusCode);
    assert.deepEqual(offCodes, [401, 401, 401, 429, 429], 'a forged X-Forwarded-For does not buy a fresh allowance');

    const on = await open({ limits, env: { TRUST_PROXY: '127.0.0.1' } });
    const onCodes = [];
    for (let i = 0; i < 4; i++) onCodes.push((await attempt(on, '203.0.113.50')).statusCode);
    assert.deepEqual(onCodes, [401, 401, 401, 429], 'the client behind the proxy is limited');
    assert.equal((await attempt(on, '203.0.113.51')).statusCode, 401, 'another client behind the same proxy is not');
    const untrusted = [];
    for (let i = 0; i < 4; i++) untrusted.push((await attempt(on, `203.0.113.${60 + i}`, '192.0.2.44')).statusCode);
    assert.deepEqual(untrusted, [401, 401, 401, 429], 'a peer that is not a named proxy is keyed by its own address');
  });
});

describe('the grant token', () => {
  test('must be printable ASCII without spaces: anything else is a 400 naming eConomicAPIKey, and changes nothing', async () => {
    const [tenant] = await queryRows<{ id: number }>(database.db, sql`select id from tenants where name = 'surface-b'`);
    assert.ok(tenant);
    const box = createSecretBox(webhook.secretsKey);
    // A webhook stores the token as a candidate for verification (docs/webhook.md).
    const stored = async () => (await pendingCandidates(database.db, box, tenant.id)).map((c) => c.token);
    const events = async () => {
      await webhook.pipeline.eventLog.flush();
      return queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from sync_events where tenant_id = ${tenant.id}`);
    };
    const [credentialsBefore, eventsBefore] = [await stored(), await events()];
    for (const grant of [`${GRANT_B}\r\n`, `${GRANT_B}\nX-Injected: 1`, `${GRANT_B}\u0000`, ` ${GRANT_B}`, `${GRANT_B} `, 'two words', `tab\t${GRANT_B}`, `${GRANT_B}\u007f`, `grænt-${GRANT_B}`, `${GRANT_B}😀`]) {
      for (const contentType of ['application/json', 'application/x-www-form-urlencoded']) {
        const payload = contentType === 'application/json' ? JSON.stringify({ eConomicAPIKey: grant, number: 9 }) : new URLSearchParams({ eConomicAPIKey: grant, number: '9' }).toString();
        const response = await webhook.app.inject({ method: 'POST', url: `/?APIKey=${keyB}&APISource=eConomicOrder`, headers: { 'content-type': contentType }, payload });
        assertProblem(response, 400, 'invalid_economic_api_key');
        assert.match(response.json<{ message: string }>().message, /"eConomicAPIKey"/);
        assertNoSecret(response.body, 'the 400');
      }
    }
    assert.deepEqual([await stored(), await events()], [credentialsBefore, eventsBefore], 'no grant stored, no event recorded');

    const printable = `${GRANT_B}!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`;
    registerSecret('grant-token', printable);
    const ok = await webhook.app.inject({ method: 'POST', url: `/?APIKey=${keyB}&APISource=eConomicOrder`, headers: { 'content-type': 'application/json' }, payload: { eConomicAPIKey: printable, number: 9 } });
    assert.equal(ok.statusCode, 202, ok.body);
    assert.ok((await stored()).includes(printable));
  });
});
