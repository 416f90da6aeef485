// The environment as the service reads it (docs/configuration.md): every mistake reported at once, in
// one message that names each variable and never echoes a secret; durations validated as durations;
// TRUST_PROXY; what split and external deployments must set (SECRETS_KEY, the app secret). And the
// process itself (`npm start`'s entry point) dying on such a mistake with one readable message, no stack
// trace, and nothing created.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, loadServiceConfig } from '../src/config';
import { registerSecret } from './helpers/test-logs';

function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('no ConfigError');
}

const SPLIT = { ROLE: 'api', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x', TEMPORAL_ADDRESS: '127.0.0.1:7233' };
const SECRETS_KEY = randomBytes(32).toString('base64');

test('defaults: the embedded single process, nothing trusted, production limits and timeouts', () => {
  const config = loadServiceConfig({});
  assert.equal(config.embedded, true);
  assert.equal(config.role, 'all');
  assert.equal(config.port, 3000);
  assert.equal(config.metricsPort, 9464);
  assert.equal(config.metricsHost, '0.0.0.0');
  assert.equal(config.trustProxy, false);
  assert.equal(config.economicAppSecretToken, 'demo');
  assert.equal(config.economicProjectsUrl, 'https://apis.e-conomic.com/projectsapi/v1.1.0');
  assert.deepEqual(config.http, { requestTimeoutMs: 10_000, headersTimeoutMs: 5_000, keepAliveTimeoutMs: 72_000, connectionTimeoutMs: 90_000 });
  assert.deepEqual(config.rateLimits, { perKey: 150_000, perKeyWindowMs: 900_000, authFailures: 30, authFailureWindowMs: 60_000 });
  assert.equal(config.reconcileIncrementalEvery, '15m');
  assert.equal(config.reconcileFullEvery, '24h');
  assert.equal(config.changesRetentionDays, 30);
  assert.equal(config.changesDeliveryMaxAttempts, 25);
  assert.equal(config.changesDeliveryMaxBackoff, '10m');
  assert.throws(() => loadConfig({ CHANGES_DELIVERY_MAX_ATTEMPTS: '0', CHANGES_DELIVERY_MAX_BACKOFF: '10' }), (err: Error) =>
    /CHANGES_DELIVERY_MAX_ATTEMPTS must be a whole number from 1 to 10000/.test(err.message) && /CHANGES_DELIVERY_MAX_BACKOFF must be a duration/.test(err.message));
  assert.equal(loadConfig({ CHANGES_RETENTION_DAYS: '7' }).changesRetentionDays, 7);
  for (const bad of ['0', '2.5', '7d', '-1']) {
    assert.throws(() => loadConfig({ CHANGES_RETENTION_DAYS: bad }), /CHANGES_RETENTION_DAYS must be a whole number from 1 to 3650/);
  }
  // Empty means unset, as in an env file's `LOG_LEVEL=`.
  assert.equal(loadConfig({ LOG_LEVEL: '', PORT: '' }).logLevel, 'info');
  assert.equal(loadConfig({ HOST: '127.0.0.1' }).metricsHost, '127.0.0.1', 'the metrics port binds where HOST says unless METRICS_HOST is set');
  assert.equal(loadConfig({ HOST: '127.0.0.1', METRICS_HOST: '10.1.2.3' }).metricsHost, '10.1.2.3');
});

test('several mistakes are reported at once, each naming its variable', () => {
  const found = problems(() =>
    loadConfig({ LOG_LEVEL: 'verbose', RECONCILE_FULL_EVERY: 'abc', PORT: '70000', ROLE: 'both', DATABASE_POOL_SIZE: '0', ECONOMIC_REST_URL: 'restapi.e-conomic.com' }),
  );
  assert.deepEqual(
    found.map((p) => p.split(' ')[0]),
    ['PORT', 'DATABASE_POOL_SIZE', 'ECONOMIC_REST_URL', 'ROLE', 'LOG_LEVEL', 'RECONCILE_FULL_EVERY'],
  );
  assert.match(found.find((p) => p.startsWith('LOG_LEVEL')) ?? '', /one of fatal, error, warn, info, debug, trace, silent \(got "verbose"\)/);
  assert.match(found.find((p) => p.startsWith('RECONCILE_FULL_EVERY')) ?? '', /duration .* \(got "abc"\)/);
  const error = new ConfigError(found);
  assert.equal(error.message.split('\n').length, 1, 'one line for any caller that prints the message');
  assert.equal(error.describe().split('\n').length, found.length + 1, 'one problem per line for a terminal');
});

test('durations need a unit and a sensible size', () => {
  for (const value of ['abc', '24', '0s', '-5m', '15 fortnights', '']) {
    const found = value === '' ? [] : problems(() => loadConfig({ RECONCILE_INCREMENTAL_EVERY: value }));
    if (value !== '') assert.match(found[0] ?? '', /^RECONCILE_INCREMENTAL_EVERY must be a duration/, value);
  }
  assert.match(problems(() => loadConfig({ RATE_LIMIT_WINDOW: '10ms' }))[0] ?? '', /at least 1 s/);
  assert.equal(loadConfig({ RECONCILE_INCREMENTAL_EVERY: '90 minutes', RECONCILE_FULL_EVERY: '1.5d' }).reconcileIncrementalEvery, '90 minutes');
  assert.deepEqual(loadConfig({ HTTP_REQUEST_TIMEOUT: '1500ms' }).http, { requestTimeoutMs: 1500, headersTimeoutMs: 1500, keepAliveTimeoutMs: 72_000, connectionTimeoutMs: 90_000 });
  assert.match(problems(() => loadConfig({ HTTP_HEADERS_TIMEOUT: '20s' }))[0] ?? '', /HTTP_HEADERS_TIMEOUT \(20s\) must not exceed HTTP_REQUEST_TIMEOUT \(10s\)/);
});

test('RECONCILE_MAX_DELETE_SHARE: a share from 0 to 1, as a fraction or a percentage; RECONCILE_TASK_QUEUE follows TEMPORAL_TASK_QUEUE', () => {
  assert.equal(loadConfig({}).reconcileMaxDeleteShare, 0.2);
  assert.equal(loadConfig({ RECONCILE_MAX_DELETE_SHARE: '0.05' }).reconcileMaxDeleteShare, 0.05);
  assert.equal(loadConfig({ RECONCILE_MAX_DELETE_SHARE: '35%' }).reconcileMaxDeleteShare, 0.35);
  assert.equal(loadConfig({ RECONCILE_MAX_DELETE_SHARE: '1' }).reconcileMaxDeleteShare, 1);
  for (const value of ['1.5', '120%', '-0.1', 'a fifth', '0.2.1']) {
    assert.match(problems(() => loadConfig({ RECONCILE_MAX_DELETE_SHARE: value }))[0] ?? '', /^RECONCILE_MAX_DELETE_SHARE must be a share from 0 to 1/, value);
  }
  assert.equal(loadConfig({}).reconcileTaskQueue, 'economic-sync-reconcile');
  assert.equal(loadConfig({ TEMPORAL_TASK_QUEUE: 'sync' }).reconcileTaskQueue, 'sync-reconcile');
  assert.equal(loadConfig({ RECONCILE_TASK_QUEUE: 'recon' }).reconcileTaskQueue, 'recon');
  assert.match(problems(() => loadConfig({ RECONCILE_TASK_QUEUE: 'two words' }))[0] ?? '', /^RECONCILE_TASK_QUEUE must be a name without spaces/);
});

test('ECONOMIC_DAILY_CALL_BUDGET: 40,000 by default (inside e-conomic\'s ~50,000 fair use), a positive whole number', () => {
  assert.equal(loadConfig({}).economicDailyCallBudget, 40_000);
  assert.equal(loadConfig({ ECONOMIC_DAILY_CALL_BUDGET: '25000' }).economicDailyCallBudget, 25_000);
  for (const value of ['0', '-5', '1.5', '40k', '10000001']) {
    assert.match(problems(() => loadConfig({ ECONOMIC_DAILY_CALL_BUDGET: value }))[0] ?? '', /^ECONOMIC_DAILY_CALL_BUDGET must be a whole number from 1 to 10000000/, value);
  }
});

test('TRUST_PROXY: off by default; addresses, ranges and names; never "everyone" or a hop count', () => {
  for (const off of ['', 'false', 'off', '0', 'none']) assert.equal(loadConfig({ TRUST_PROXY: off }).trustProxy, false, off);
  assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,loopback,fd00::/8' }).trustProxy, ['10.0.0.0/8', '127.0.0.1', 'loopback', 'fd00::/8']);
  for (const bad of ['true', 'all', '*', '1', '2']) {
    assert.match(problems(() => loadConfig({ TRUST_PROXY: bad }))[0] ?? '', /^TRUST_PROXY must name the proxies/, bad);
  }
  assert.match(problems(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33,proxy.local' }))[0] ?? '', /not understood: "10\.0\.0\.0\/33", "proxy\.local"/);
});

test('METRICS_PORT must differ from PORT; the replaced rate-limit variables are named as mistakes', () => {
  assert.match(problems(() => loadConfig({ PORT: '9000', METRICS_PORT: '9000' }))[0] ?? '', /METRICS_PORT must differ from PORT/);
  assert.equal(loadConfig({ PORT: '0', METRICS_PORT: '0' }).metricsPort, 0, 'two free ports');
  assert.deepEqual(
    problems(() => loadConfig({ RATE_LIMIT_PER_SECOND: '2000', RATE_LIMIT_BURST: '200000' })).map((p) => p.split(' ')[0]),
    ['RATE_LIMIT_PER_SECOND', 'RATE_LIMIT_BURST'],
  );
});

test('secrets are never echoed, valid or not', () => {
  const appSecret = `app secret with spaces ${randomBytes(8).toString('hex')}`;
  const badKey = `not-a-key-${randomBytes(8).toString('hex')}`;
  const password = `pw${randomBytes(8).toString('hex')}`;
  registerSecret('app-secret', appSecret);
  const found = problems(() => loadConfig({ ECONOMIC_APP_SECRET_TOKEN: appSecret, SECRETS_KEY: badKey, DATABASE_URL: `mysql://user:${password}@db/x` }));
  assert.deepEqual(found.map((p) => p.split(' ')[0]), ['DATABASE_URL', 'ECONOMIC_APP_SECRET_TOKEN', 'SECRETS_KEY']);
  const text = found.join('\n');
  for (const secret of [appSecret, badKey, password]) assert.ok(!text.includes(secret), 'a secret in the message');
});

test('outside the embedded single process SECRETS_KEY and a real app secret are required, each named with why', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ ROLE: 'worker', DATABASE_URL: SPLIT.DATABASE_URL, TEMPORAL_ADDRESS: SPLIT.TEMPORAL_ADDRESS }, 'ROLE=worker'],
    [SPLIT, 'ROLE=api'],
    [{ DATABASE_URL: SPLIT.DATABASE_URL }, 'DATABASE_URL is set'],
    [{ TEMPORAL_ADDRESS: SPLIT.TEMPORAL_ADDRESS }, 'TEMPORAL_ADDRESS is set'],
  ];
  for (const [env, why] of cases) {
    const found = problems(() => loadServiceConfig(env));
    assert.deepEqual(found.map((p) => p.split(' ')[0]), ['SECRETS_KEY', 'ECONOMIC_APP_SECRET_TOKEN'], why);
    assert.ok(found.every((p) => p.includes(`(${why})`)), found.join('\n'));
    assert.match(found[0] ?? '', /openssl rand -base64 32/);
  }
  // "demo" is the embedded default only, even when set by hand.
  assert.deepEqual(problems(() => loadServiceConfig({ ...SPLIT, SECRETS_KEY, ECONOMIC_APP_SECRET_TOKEN: 'demo' })).map((p) => p.split(' ')[0]), ['ECONOMIC_APP_SECRET_TOKEN']);
  const split = loadServiceConfig({ ...SPLIT, SECRETS_KEY, ECONOMIC_APP_SECRET_TOKEN: 'our-app-secret-token' });
  assert.equal(split.embedded, false);
  // The CLI reads the same variables without the service's rules.
  assert.equal(loadConfig(SPLIT).role, 'api');
  // The role's own needs come with the rest.
  assert.deepEqual(
    problems(() => loadServiceConfig({ ROLE: 'worker', LOG_LEVEL: 'loud' })).map((p) => p.split(' ')[0]),
    ['LOG_LEVEL', 'ROLE=worker', 'ROLE=worker', 'SECRETS_KEY', 'ECONOMIC_APP_SECRET_TOKEN'],
  );
});

/** Runs `npm start`'s entry point with exactly this environment; it must fail before doing anything. */
function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'src', 'main.ts')], {
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: process.env.NODE_OPTIONS ?? '', ECONOMIC_SYNC_TEST_LOG_DIR: process.env.ECONOMIC_SYNC_TEST_LOG_DIR ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

test('npm start with a split role and no SECRETS_KEY: one clear line, exit 1, no stack trace, nothing created', async () => {
  const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'economic-sync-config-')), 'data');
  const { code, stderr, stdout } = await start({ ...SPLIT, ROLE: 'worker', ECONOMIC_APP_SECRET_TOKEN: 'our-app-secret-token', DATA_DIR: dataDir });
  assert.equal(code, 1);
  assert.equal(stdout, '');
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0] ?? '', /^economic-sync failed to start: invalid configuration: SECRETS_KEY is required outside the embedded single process \(ROLE=worker\)/);
  assert.ok(!existsSync(dataDir), 'DATA_DIR was created');
});

test('npm start with LOG_LEVEL=verbose and RECONCILE_FULL_EVERY=abc: both named at once, no stack trace', async () => {
  const { code, stderr } = await start({ LOG_LEVEL: 'verbose', RECONCILE_FULL_EVERY: 'abc', DATA_DIR: path.join(os.tmpdir(), 'never-created') });
  assert.equal(code, 1);
  assert.match(stderr, /^economic-sync failed to start: invalid configuration \(2 problems\):\n {2}- LOG_LEVEL must be one of .*\n {2}- RECONCILE_FULL_EVERY must be a duration/);
  assert.ok(!/\n\s+at /.test(stderr), `a stack trace:\n${stderr}`);
});
