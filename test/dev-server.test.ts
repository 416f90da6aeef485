// The local dev server as the service launches it (src/temporal/dev-server.ts) and the process manager
// under it (src/temporal/managed-process.ts): the command line it builds, SQLite really in WAL mode with a
// database file (the journal mode is persisted in the file's header), the Web UI on the port asked for, a
// log next to the database, and the stop and failure paths of a managed process.
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { devServerArgs, startLocalTemporal } from '../src/temporal/dev-server';
import { freePort, startManagedProcess, waitUntilReady } from '../src/temporal/managed-process';

const dir = mkdtempSync(path.join(os.tmpdir(), 'economic-sync-dev-server-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** SQLite's file header: bytes 18 and 19 are 2 in WAL mode, 1 with the rollback journal. */
function journalVersion(file: string): [number, number] {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(20);
    readSync(fd, header, 0, 20, 0);
    return [header[18] ?? 0, header[19] ?? 0];
  } finally {
    closeSync(fd);
  }
}

test('the command line: WAL pragmas only with a database file, headless without a UI port, our search attributes', () => {
  const base = { namespace: 'default', ip: '127.0.0.1', port: 7233, wal: true };
  const inMemory = devServerArgs(base);
  assert.ok(!inMemory.includes('--sqlite-pragma') && !inMemory.includes('--db-filename'));
  assert.ok(inMemory.includes('--headless'));
  assert.deepEqual(
    inMemory.filter((_, i) => inMemory[i - 1] === '--search-attribute'),
    ['EconomicTenant=Keyword', 'EconomicSource=Keyword', 'EconomicNumber=Int', 'EconomicTrigger=Keyword'],
  );
  const withFile = devServerArgs({ ...base, dbFilename: '/data/temporal.sqlite', uiPort: 8233 });
  assert.deepEqual(withFile.filter((_, i) => withFile[i - 1] === '--sqlite-pragma'), ['journal_mode=wal', 'synchronous=normal']);
  assert.equal(withFile[withFile.indexOf('--ui-port') + 1], '8233');
  assert.ok(!withFile.includes('--headless'));
  assert.ok(!devServerArgs({ ...base, dbFilename: '/data/temporal.sqlite', wal: false }).includes('--sqlite-pragma'));
});

test('with a database file: the directory is created, SQLite runs in WAL mode, the UI and a log file are there', async () => {
  const dbFilename = path.join(dir, 'state', 'temporal.sqlite');
  const uiPort = await freePort();
  const server = await startLocalTemporal({ dbFilename, uiPort });
  try {
    assert.equal(server.uiUrl, `http://127.0.0.1:${uiPort}`);
    assert.equal((await fetch(server.uiUrl)).status, 200);
    const connection = await Connection.connect({ address: server.address });
    const described = await connection.workflowService.describeNamespace({ namespace: 'default' });
    await connection.close();
    assert.equal(described.namespaceInfo?.name, 'default');
    assert.ok(existsSync(`${dbFilename}.log`), 'the server log goes next to the database');
  } finally {
    await server.shutdown();
  }
  assert.equal(server.process.running(), false);
  assert.deepEqual(journalVersion(dbFilename), [2, 2], 'journal_mode=wal is in the file header');

  // Without WAL the same launcher leaves SQLite's rollback journal: the assertion above can fail.
  const plain = path.join(dir, 'plain', 'temporal.sqlite');
  const other = await startLocalTemporal({ dbFilename: plain, wal: false });
  await other.shutdown();
  assert.deepEqual(journalVersion(plain), [1, 1]);
});

test('a managed process that ignores SIGTERM is killed after the timeout', async () => {
  const proc = startManagedProcess({ name: 'stubborn', command: process.execPath, args: ['-e', "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"] });
  await waitUntilReady(proc, 'printing up', async () => proc.tail().includes('up'), 10_000);
  const status = await proc.stop(300);
  assert.equal(status.signal, 'SIGKILL');
  assert.equal(proc.running(), false);
});

test('a managed process that dies while starting fails at once, with the end of its output', async () => {
  const proc = startManagedProcess({ name: 'doomed', command: process.execPath, args: ['-e', "console.error('cannot bind: port in use'); process.exit(3)"] });
  await assert.rejects(
    waitUntilReady(proc, 'serving', async () => false, 60_000),
    (err: Error) => /doomed exited \(code 3\) before serving/.test(err.message) && /cannot bind: port in use/.test(err.message),
  );
});
