// Replays recorded workflow histories (test/histories/*.json) against today's workflow code: a change
// that breaks determinism (reordered activities, a new timer, a renamed signal) fails here, before it
// breaks running workflows in production. Record new ones with RECORD_HISTORIES=<prefix> npm test.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundle } from '../src/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });

const dir = path.join(__dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('recorded histories replay without nondeterminism', async () => {
  assert.ok(files.length >= 5, `expected recorded histories in ${dir}`);
  const histories = files.map((file) => ({
    workflowId: file,
    // Recorded with JSON.stringify of the SDK's history message (protobufjs JSON form).
    history: temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>),
  }));
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    replayed.push(result.workflowId);
  }
  assert.deepEqual(replayed.sort(), [...files].sort());
});
