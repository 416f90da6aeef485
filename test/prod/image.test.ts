// What the container image would do, without a Docker daemon: the Dockerfile's runtime stage is read (its
// COPY lines, USER, WORKDIR and CMD), those paths are staged into an app directory exactly as the stages
// build them (dist/ from `npm run build`, node_modules pruned to production dependencies), the copy is made
// read-only and root-owned, and the CMD runs there as a non-root user on the image's Node LTS, as ROLE=api
// and ROLE=worker: both start, serve (/healthz and /readyz; a poller on the task queue), write nothing,
// and exit 0 on SIGTERM.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { freePort } from '../../src/temporal/managed-process';
import { PROJECT_ROOT } from '../../src/project-root';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { resolveNodeLts } from '../helpers/node-lts';
import { apiReady, logPath, serviceProcess, workerReady, type ServiceProcess } from '../helpers/service-process';
import { startTestTemporal, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';

const run = promisify(execFile);
/** The image's `USER node` is uid/gid 1000 in the official Node images. */
const NON_ROOT = { uid: 1000, gid: 1000 };

interface RuntimeStage {
  copies: string[];
  user: string;
  workdir: string;
  cmd: string[];
}

/** The last stage of the Dockerfile: what it copies (by destination), its USER, WORKDIR and CMD. */
function runtimeStage(dockerfile: string): RuntimeStage {
  const lines = dockerfile.split('\n');
  const stage = lines.slice(lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true));
  const value = (keyword: string) => stage.find((l) => l.startsWith(`${keyword} `))?.slice(keyword.length + 1).trim() ?? '';
  const copies = stage.filter((l) => l.startsWith('COPY ')).map((l) => (l.trim().split(/\s+/).at(-1) ?? '').replace(/^\.\//, ''));
  return { copies, user: value('USER'), workdir: value('WORKDIR'), cmd: JSON.parse(value('CMD') || '[]') as string[] };
}

let stage: RuntimeStage;
let stagingRoot: string;
let app: string;
let node: { path: string; version: string };
let temporal: TestTemporal;
let database: TestDatabase;
let client: Client;
const processes: ServiceProcess[] = [];

before(async () => {
  stage = runtimeStage(readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8'));
  assert.deepEqual(stage.cmd.slice(0, 1), ['node'], 'the image runs node itself (PID 1 gets SIGTERM), not npm');
  assert.equal(stage.user, 'node', 'the image runs as the non-root node user');
  assert.ok(existsSync(path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js')), 'run `npm run build` first (npm run test:prod does)');

  [node, temporal, database] = await Promise.all([resolveNodeLts(), startTestTemporal(), createTestDatabase('es_image')]);
  client = temporal.env.client;

  stagingRoot = mkdtempSync(path.join(os.tmpdir(), 'economic-sync-image-'));
  app = path.join(stagingRoot, stage.workdir.replace(/^\//, ''));
  for (const copied of stage.copies) cpSync(path.join(PROJECT_ROOT, copied), path.join(app, copied), { recursive: true, verbatimSymlinks: true });
  // The build stage's `npm prune --omit=dev`, which needs the lock file the runtime stage leaves out.
  cpSync(path.join(PROJECT_ROOT, 'package-lock.json'), path.join(app, 'package-lock.json'));
  await run('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund', '--offline'], { cwd: app, timeout: 300_000 });
  rmSync(path.join(app, 'package-lock.json'));
  // Root-owned and read-only for everyone else, as COPY leaves it for `USER node`.
  await run('chmod', ['-R', 'a-w,a+rX', stagingRoot]);
  chmodSync(stagingRoot, 0o555);
});

after(async () => {
  await Promise.allSettled(processes.map((p) => p.stop(30_000)));
  await Promise.allSettled([temporal?.shutdown(), database?.drop()]);
  if (stagingRoot) {
    await run('chmod', ['-R', 'u+w', stagingRoot]).catch(() => {});
    rmSync(stagingRoot, { recursive: true, force: true });
  }
});

test('the runtime stage holds production dependencies only: no tsx, no TypeScript, no test SDK', () => {
  for (const devOnly of ['tsx', 'typescript', '@temporalio/testing', 'drizzle-kit']) {
    assert.equal(existsSync(path.join(app, 'node_modules', devOnly)), false, `${devOnly} is not in the image`);
  }
  for (const needed of ['@temporalio/worker', 'fastify', 'drizzle-orm', 'postgres']) assert.ok(existsSync(path.join(app, 'node_modules', needed)), `${needed} is`);
});

test('the copy is really read-only for the non-root user', () => {
  const attempt = spawnSync('setpriv', [`--reuid=${NON_ROOT.uid}`, `--regid=${NON_ROOT.gid}`, '--clear-groups', node.path, '-e', `require('node:fs').mkdirSync(${JSON.stringify(path.join(app, '.data'))})`]);
  assert.notEqual(attempt.status, 0, 'a write into the app directory fails');
  assert.match(attempt.stderr.toString(), /EACCES/);
});

test("the image's CMD as a non-root user on the read-only copy: ROLE=api serves /healthz and /readyz, ROLE=worker polls, both stop with exit 0", async () => {
  const taskQueue = uniqueTaskQueue('image');
  // DATA_DIR left at its default (./.data inside the read-only app directory): nothing may create it.
  const env = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ECONOMIC_APP_SECRET_TOKEN: 'image-test',
    SECRETS_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'warn',
  };
  const port = await freePort();
  const common = { node: node.path, command: stage.cmd.slice(1), cwd: app, env, runAs: NON_ROOT };
  const api = serviceProcess({ ...common, name: 'image-api', role: 'api', port, logFile: logPath(os.tmpdir(), `economic-sync-image-api-${port}`) }, apiReady(`http://127.0.0.1:${port}`));
  const worker = serviceProcess({ ...common, name: 'image-worker', role: 'worker', metricsPort: await freePort(), logFile: logPath(os.tmpdir(), `economic-sync-image-worker-${port}`) }, workerReady(client, taskQueue));
  processes.push(api, worker);
  await Promise.all([api.start(), worker.start()]);

  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(ready.status, 200, await ready.text());
  // ROLE=worker serves health and metrics on its internal operations port (docs/configuration.md, METRICS_PORT).
  assert.equal((await fetch(`${worker.metricsUrl}/healthz`)).status, 200);
  assert.match(await (await fetch(`${worker.metricsUrl}/metrics`)).text(), /economic_sync_/);
  // The compiled CLI (bin/ runs dist/ when present) works from the same read-only copy.
  const cli = spawnSync('setpriv', [`--reuid=${NON_ROOT.uid}`, `--regid=${NON_ROOT.gid}`, '--clear-groups', node.path, 'bin/economic-sync.js', 'access', 'list'], { cwd: app, env: { ...env, PATH: process.env.PATH } });
  assert.equal(cli.status, 0, cli.stderr.toString());

  const [apiExit, workerExit] = await Promise.all([api.stop(60_000), worker.stop(60_000)]);
  assert.deepEqual([apiExit.code, workerExit.code], [0, 0], 'SIGTERM: drained and exited 0');
  assert.equal(existsSync(path.join(app, '.data')), false);
});
