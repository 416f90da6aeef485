// `access create|list|revoke` (docs/cli.md): through the registered handlers, and once through the
// real CLI process with DATABASE_URL set.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { createApiKeyAuthenticator, hashApiKey } from '../src/access/api-keys';
import { runCommand } from '../src/cli/commands';
import { CliError, type CommandContext } from '../src/cli/context';
import { loadConfig } from '../src/config';
import { apiKeys, tenants } from '../src/db/schema';
import { createTestDatabase, type TestDatabase } from './helpers/database';

const GUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
let database: TestDatabase;
let ctx: CommandContext;

before(async () => {
  database = await createTestDatabase();
  ctx = { config: loadConfig({}), db: database.db, temporal: () => Promise.reject(new Error('not needed')) };
});

after(async () => {
  await database?.drop();
});

const lastLine = (stdout: string) => stdout.trimEnd().split('\n').at(-1) ?? '';

test('access create makes the tenant once and prints a fresh GUID key alone on the last line; only hash and prefix are stored', async () => {
  const first = await runCommand(ctx, 'access create', { tenant: 'acme', description: 'Acme ApS' });
  const second = await runCommand(ctx, 'access create', { tenant: 'acme' });
  const key1 = lastLine(first.stdout);
  const key2 = lastLine(second.stdout);
  assert.match(key1, GUID);
  assert.match(key2, GUID);
  assert.notEqual(key1, key2);
  assert.equal((await database.db.select().from(tenants).where(eq(tenants.name, 'acme'))).length, 1);
  const rows = await database.db.select().from(apiKeys);
  assert.equal(rows.length, 2);
  const stored = JSON.stringify(rows);
  assert.ok(!stored.includes(key1) && !stored.includes(key2), 'a whole key is stored');
  assert.deepEqual(rows.map((r) => r.prefix).sort(), [key1.slice(0, 8), key2.slice(0, 8)].sort());
  assert.ok(rows.some((r) => r.keyHash === hashApiKey(key1)));
  assert.equal(rows.find((r) => r.keyHash === hashApiKey(key1))?.description, 'Acme ApS');
  assert.equal(rows[0]?.partner, 'eConomic');
});

test('access create refuses an invalid tenant name with a clear error', async () => {
  for (const tenant of ['Acme', 'has space', '', '-x', 'a/b', 'x'.repeat(64), undefined]) {
    await assert.rejects(runCommand(ctx, 'access create', { tenant }), (err: unknown) => err instanceof CliError && /tenant name/.test(err.message));
  }
});

test('access list shows prefix, tenant, description, created, revoked and never a whole key', async () => {
  const key = lastLine((await runCommand(ctx, 'access create', { tenant: 'globex', description: 'Globex' })).stdout);
  const all = (await runCommand(ctx, 'access list', {})).stdout;
  assert.match(all.split('\n')[0] ?? '', /prefix\s+tenant\s+description\s+created\s+revoked/);
  assert.ok(all.includes(key.slice(0, 8)));
  assert.ok(all.includes('acme') && all.includes('globex'));
  assert.ok(!all.includes(key));
  const only = (await runCommand(ctx, 'access list', { tenant: 'globex' })).stdout;
  assert.ok(only.includes('Globex') && !only.includes('acme'));
});

test('access revoke takes effect at once; an unknown key is a CliError', async () => {
  const key = lastLine((await runCommand(ctx, 'access create', { tenant: 'initech' })).stdout);
  const authenticator = createApiKeyAuthenticator(database.db);
  assert.equal((await authenticator.authenticate(key)).ok, true);
  const revoked = await runCommand(ctx, 'access revoke', { key });
  assert.match(revoked.stdout, /Revoked/);
  assert.ok(!revoked.stdout.includes(key));
  assert.deepEqual(await authenticator.authenticate(key), { ok: false, reason: 'invalid' });
  const listed = (await runCommand(ctx, 'access list', { tenant: 'initech' })).stdout.split('\n')[2] ?? '';
  assert.match(listed, /\d{4}-\d{2}-\d{2}T.*\d{4}-\d{2}-\d{2}T/, 'revoked column filled');
  await assert.rejects(runCommand(ctx, 'access revoke', { key: 'C5E6A287-1B4B-4EAF-AD57-2CF78A52927C' }), CliError);
  await assert.rejects(runCommand(ctx, 'access revoke', { key: 'not-a-key' }), CliError);
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', 'cli', '--', ...args], {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, DATABASE_URL: database.url, DATA_DIR: path.join(__dirname, '..', '.data', 'cli-test') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the real CLI: create prints the key last, revoke confirms, errors exit non-zero with one line', async () => {
  const created = await cli(['access', 'create', '--tenant', 'umbrella', '--description', 'Umbrella Corp']);
  assert.equal(created.code, 0, created.stderr);
  const key = lastLine(created.stdout);
  assert.match(key, GUID);
  const revoked = await cli(['access', 'revoke', key]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /Revoked/);
  const unknown = await cli(['access', 'revoke', 'C5E6A287-1B4B-4EAF-AD57-2CF78A52927C']);
  assert.notEqual(unknown.code, 0);
  assert.equal(unknown.stderr.trim().split('\n').length, 1);
  assert.match(unknown.stderr, /no such API key/);
});
