// The suite's last file (named to sort last; scripts/run-tests.ts runs the files in name order, one at a
// time): greps every line logged during this test run, by the tests' loggers and by any process's
// stderr, for every API key, grant token and app secret the run's tests registered
// (test/helpers/test-logs.ts). First it proves that the grep finds a planted secret.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { scanForSecrets } from './helpers/secret-scan';
import { RUN_DIR_ENV, testRunDir, type RegisteredSecret } from './helpers/test-logs';

test('the check finds a planted secret in any case, URL-encoded or UTF-16, in test loggers and process output', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'economic-sync-leaks-'));
  try {
    const secrets: RegisteredSecret[] = [
      { kind: 'api-key', value: 'C5E6A287-1B4B-4EAF-AD57-2CF78A52927C' },
      { kind: 'grant-token', value: 'grant/with+special=chars' },
      { kind: 'app-secret', value: 'app-secret-0123456789' },
    ];
    mkdirSync(path.join(dir, 'secrets'));
    writeFileSync(path.join(dir, 'secrets', '1.jsonl'), `${secrets.map((s) => JSON.stringify(s)).join('\n')}\n`);
    mkdirSync(path.join(dir, 'logs'));
    mkdirSync(path.join(dir, 'output'));
    writeFileSync(path.join(dir, 'logs', 'clean.log'), '{"msg":"webhook event accepted","tenant":"acme"}\n');
    writeFileSync(
      path.join(dir, 'logs', 'leaky.log'),
      ['{"msg":"ok"}', '{"msg":"Route GET:/?APIKey=c5e6a287-1b4b-4eaf-ad57-2cf78a52927c not found"}', `{"body":"${encodeURIComponent('grant/with+special=chars')}"}`].join('\n'),
    );
    writeFileSync(path.join(dir, 'output', '42.log'), Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from('x-appsecrettoken: app-secret-0123456789\n')]));
    writeFileSync(path.join(dir, 'output', '43.log'), Buffer.concat([Buffer.from([0xff, 0x0f]), Buffer.from('→ C5E6A287-1B4B-4EAF-AD57-2CF78A52927C', 'utf16le')]));

    const found = scanForSecrets(dir);
    assert.equal(found.secrets, 3);
    assert.equal(found.files, 4);
    assert.deepEqual(
      found.leaks.map((l) => `${l.file}:${l.line}:${l.kind}`).sort(),
      ['logs/leaky.log:2:api-key', 'logs/leaky.log:3:grant-token', 'output/42.log:1:app-secret', 'output/43.log:1:api-key'],
    );

    rmSync(path.join(dir, 'logs', 'leaky.log'));
    rmSync(path.join(dir, 'output', '42.log'));
    rmSync(path.join(dir, 'output', '43.log'));
    assert.deepEqual(scanForSecrets(dir).leaks, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no API key, grant token or app secret in any line logged during this test run', (t) => {
  const dir = testRunDir();
  const result = scanForSecrets(dir);
  t.diagnostic(`checked ${result.lines} lines in ${result.files} log files for ${result.secrets} secrets (${dir})`);
  if (process.env[RUN_DIR_ENV]) {
    // Under npm test the run must have logged and registered something, or the check proves nothing.
    assert.ok(result.files > 0, 'no log files in the run directory');
    assert.ok(result.secrets > 0, 'no secrets registered in the run directory');
  }
  const shown = result.leaks.slice(0, 20).map((l) => `${l.kind} in ${l.file} line ${l.line}`);
  assert.deepEqual(shown, [], `${result.leaks.length} secrets found in log lines; the files are under ${dir}`);
});
