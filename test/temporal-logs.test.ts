// What the service writes is JSON lines a log pipeline can parse, the Temporal SDK core's own warnings
// included (src/temporal/runtime-logger.ts): the real service (`src/main.ts`, ROLE=worker) on its own
// dev server, which is then shut down, so the core retries its polls and says so, as it does in
// production when the Temporal cluster is unreachable. It runs at LOG_LEVEL=debug, which the SDK follows.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../src/project-root';
import { startLocalTemporal } from '../src/temporal/dev-server';
import { createTestDatabase } from './helpers/database';
import { registerSecret } from './helpers/test-logs';
import { waitFor } from './helpers/wait';

interface LogLine {
  level?: number;
  msg?: string;
  component?: string;
  state?: string;
}

/** The SDK core's warning while it cannot reach the server: it retries its polls. */
const isPollWarning = (l: LogLine) => l.level === 40 && /poll/i.test(l.msg ?? '');

/** The human-readable lines src/main.ts prints once it runs (to a terminal, before any log line matters). */
const isBanner = (line: string) => line.startsWith('economic-sync is running') || line.startsWith('  ');

test("a worker whose Temporal server went away logs the SDK core's retried polls as JSON lines", async () => {
  const [database, temporal] = await Promise.all([createTestDatabase(), startLocalTemporal()]);
  const secretsKey = randomBytes(32).toString('hex');
  registerSecret('secrets-key', secretsKey);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src', 'main.ts')], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      ROLE: 'worker',
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      TEMPORAL_TASK_QUEUE: `logs-${randomBytes(4).toString('hex')}`,
      SECRETS_KEY: secretsKey,
      ECONOMIC_APP_SECRET_TOKEN: 'logs-test-app-secret',
      METRICS_PORT: '0',
      LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => lines.push(line));
  const parsed = (): LogLine[] =>
    lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
  try {
    await waitFor('the worker to poll', () => parsed().some((l) => l.msg === 'Worker state changed' && l.state === 'RUNNING'), 60_000);
    await temporal.shutdown();
    await waitFor("the SDK core's warning that it retries its polls", () => parsed().some(isPollWarning), 60_000);
  } finally {
    child.kill('SIGKILL');
    await exited;
    await database.drop();
  }
  const logLines = lines.filter((l) => l.trim() !== '' && !isBanner(l));
  for (const l of logLines) {
    assert.doesNotThrow(() => JSON.parse(l), `not a JSON line: ${l.slice(0, 200)}`);
    assert.ok(!l.includes('\u001b['), `terminal colour codes in a log line: ${l.slice(0, 200)}`);
  }
  const warning = parsed().find(isPollWarning);
  assert.equal(warning?.component, 'temporal', 'the core warning goes through the service logger');
  // LOG_LEVEL=debug reaches the SDK too: its debug lines (a worker created, each activity started) are logged.
  assert.ok(parsed().some((l) => l.component === 'temporal' && l.level === 20 && l.msg === 'Creating worker'), "the SDK's debug lines at LOG_LEVEL=debug");
  // The SDK's debug lines dump the worker's options: none carries the service's secrets.
  for (const secret of [secretsKey, 'logs-test-app-secret']) assert.ok(!lines.some((l) => l.includes(secret)), 'a secret in a log line');
});
