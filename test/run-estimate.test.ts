// The expected finish of a whole reconciliation run (docs/cli.md, "Expected finish"): a pure function of
// fixed inputs, no clock. It finishes today when today's share of the daily call budget covers the
// remaining calls, else it needs whole UTC days at the daily share; unknown scope sizes give a lower bound
// and are named, never guessed; and the answer is the same in any process time zone (UTC instants and days).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { estimateResume, estimateRunning, pausedLine } from '../src/cli/run-estimate';
import { callsFor, estimateRun, formatRunEstimate } from '../src/shared/run-estimate';

const NOW = new Date('2026-11-29T10:00:00.000Z');

test('a run that today\'s share covers finishes today, at the instant its rate gives', () => {
  const e = estimateRun({
    now: NOW,
    scopes: [
      { scope: 'order:drafts', left: 500 },
      { scope: 'order:sent', left: 100 },
    ],
    pageSize: 100,
    budget: { used: 1000, reconcileLimit: 32_000 },
    ratePerSecond: 10,
  });
  assert.equal(e.callsLeft, 500 + 5 + 100 + 1);
  assert.equal(e.entitiesLeft, 600);
  assert.equal(e.callsLeftToday, 31_000);
  assert.equal(e.finishesToday, true);
  assert.equal(e.moreDays, 0);
  assert.equal(e.finish, '2026-11-29T10:01:00.000Z');
  assert.equal(formatRunEstimate(e), '606 e-conomic calls left (31000 left today in reconciliation\'s share); within today\'s share: expected finish 2026-11-29T10:01:00.000Z');
});

test('a run larger than today\'s share needs whole UTC days at the daily share', () => {
  // 2000 left today; 70,000 entities in pages of 1000: 70,070 calls, 68,070 after today, 3 days of 32,000.
  const e = estimateRun({
    now: NOW,
    scopes: [
      { scope: 'booked-invoice:unpaid', left: 10_000 },
      { scope: 'order:archived', left: 20_000 },
      { scope: 'booked-invoice', left: 40_000 },
    ],
    pageSize: 1000,
    budget: { used: 30_000, reconcileLimit: 32_000 },
  });
  assert.equal(e.callsLeft, 70_070);
  assert.equal(e.callsLeftToday, 2000);
  assert.equal(e.finishesToday, false);
  assert.equal(e.moreDays, 3);
  assert.equal(e.finish, '2026-12-02');
  assert.match(formatRunEstimate(e), /^70070 e-conomic calls left \(2000 left today in reconciliation's share\); expected finish 2026-12-02 \(3 more UTC days at the daily share, which resets at 00:00 UTC\)$/);
  // With a rate, the last day's hour: 4070 calls at 10 per second after 00:00 UTC.
  assert.equal(estimateRun({ now: NOW, scopes: [{ scope: 'booked-invoice', left: 70_000 }], pageSize: 1000, budget: { used: 30_000, reconcileLimit: 32_000 }, ratePerSecond: 10 }).finish, '2026-12-02T00:06:47.000Z');
  // Spent today (a paused run): everything is for the coming days.
  const paused = estimateRun({ now: NOW, scopes: [{ scope: 'customer', left: 10 }], pageSize: 2, budget: { used: 32, reconcileLimit: 32 } });
  assert.deepEqual([paused.callsLeft, paused.callsLeftToday, paused.finishesToday, paused.moreDays, paused.finish], [15, 0, false, 1, '2026-11-30']);
});

test('unknown scope sizes are named and give only a lower bound, never a made-up number', () => {
  const fits = estimateRun({ now: NOW, scopes: [{ scope: 'customer', left: 10 }, { scope: 'project' }], pageSize: 1000, budget: { used: 0, reconcileLimit: 32_000 } });
  assert.equal(fits.callsLeft, 12, 'the counted scope\'s 11 and the unknown one\'s first listing page');
  assert.deepEqual(fits.unknown, ['project']);
  assert.equal(fits.finishesToday, undefined, 'the unknown scope may or may not fit today');
  assert.equal(fits.finish, undefined);
  assert.equal(formatRunEstimate(fits), 'at least 12 e-conomic calls left (32000 left today in reconciliation\'s share); expected finish unknown; not counted yet: project (no earlier full run listed them)');
  const beyond = estimateRun({ now: NOW, scopes: [{ scope: 'customer', left: 40_000 }, { scope: 'order:archived' }], pageSize: 1000, budget: { used: 0, reconcileLimit: 32_000 } });
  assert.equal(beyond.finishesToday, false);
  assert.match(formatRunEstimate(beyond), /expected finish not before 2026-11-30 \(1 more UTC day/);
  // Today's share spent: even an uncounted scope's first page waits for tomorrow.
  const spent = estimateRun({ now: NOW, scopes: [{ scope: 'customer', left: 0 }, { scope: 'project' }], pageSize: 1000, budget: { used: 40, reconcileLimit: 32 } });
  assert.deepEqual([spent.callsLeft, spent.finishesToday, spent.finish], [1, false, '2026-11-30']);
  assert.match(formatRunEstimate(estimateRun({ now: NOW, scopes: [{ scope: 'customer', left: 1 }], pageSize: 1000 })), /expected finish unknown \(no call budget: tenant unbound\)/);
});

test('calls per scope: one fetch per entity and one listing call per page', () => {
  assert.deepEqual([callsFor(0, 1000), callsFor(1, 1000), callsFor(1000, 1000), callsFor(1001, 1000)], [0, 2, 1001, 1003]);
});

test('the same answer in any process time zone', () => {
  const script = `
    const { estimateRun, formatRunEstimate } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'shared', 'run-estimate.ts'))});
    const now = new Date('2026-11-29T23:30:00.000Z');
    const lines = [
      estimateRun({ now, scopes: [{ scope: 'customer', left: 100 }], pageSize: 10, budget: { used: 0, reconcileLimit: 1000 }, ratePerSecond: 1 }),
      estimateRun({ now, scopes: [{ scope: 'booked-invoice', left: 5000 }], pageSize: 1000, budget: { used: 900, reconcileLimit: 1000 } }),
    ].map(formatRunEstimate);
    process.stdout.write(lines.join('\\n'));`;
  const run = (tz: string) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const utc = run('UTC');
  assert.match(utc, /expected finish 2026-11-29T23:31:40\.000Z/);
  assert.match(utc, /expected finish 2026-12-04 \(5 more UTC days/);
  assert.equal(run('Europe/Copenhagen'), utc);
  assert.equal(run('Pacific/Kiritimati'), utc);
});

test('status\'s inputs: a paused full run counts its later scopes by the previous full run\'s sizes', () => {
  const usage = { agreementNumber: 1, windowStart: new Date('2026-11-29T00:00:00.000Z'), windowEnd: new Date('2026-11-30T00:00:00.000Z'), used: 32_000, limit: 40_000, pausedUntil: null };
  const src = {
    now: NOW,
    scopeRows: [
      { scope: 'order:archived', lastSummary: { checked: 9, fullTotal: 30_000 } },
      { scope: 'quote:archived', lastSummary: { checked: 0, fullTotal: 0 } },
      { scope: 'booked-invoice', lastSummary: { checked: 3 } },
    ],
    usage,
    reconcileLimit: 32_000,
  };
  const cursor = { runId: 'r', scope: 'order:archived' as const, phase: 'list' as const, total: 40_000, counts: { checked: 10_000, signalled: 0, synced: 0, deleted: 0, failed: 0, calls: 10, peakItemsInMemory: 1000 } };
  const resume = { runId: 'r', full: true, scopes: ['booked-invoice:unpaid', 'order:archived', 'quote:archived', 'booked-invoice'] as const, scopeIndex: 1, cursor, deletionCandidates: 0 };
  const e = estimateResume({ ...resume, scopes: [...resume.scopes] }, src);
  assert.ok(e);
  // order:archived: 30,000 left of e-conomic's live 40,000 (30,030 calls); quote:archived: 0; booked-invoice: not counted (1).
  assert.deepEqual([e.callsLeft, e.unknown, e.finishesToday, e.finish], [30_031, ['booked-invoice'], false, '2026-11-30']);
  assert.equal(
    pausedLine(e, usage),
    'paused until 2026-11-30T00:00:00.000Z (00:00 UTC) by the daily call budget; at least 30031 e-conomic calls left (0 left today in reconciliation\'s share); expected finish not before 2026-11-30 (1 more UTC day at the daily share, which resets at 00:00 UTC); not counted yet: booked-invoice (no earlier full run listed them)',
  );
  assert.equal(estimateResume({ ...resume, scopes: [...resume.scopes], full: false }, src), undefined, 'an incremental run is not estimated');
  // Running: the live progress of the full run's position, its rate for the finish instant.
  const live = { runId: 'r', full: true, scope: 'booked-invoice' as const, scopeIndex: 10, scopeCount: 11, checkedBefore: 0, checked: 0, total: 100, bulk: 0, signalled: 0, ratePerSecond: 5, updatedAt: NOW.toISOString() };
  assert.equal(estimateRunning(live, { ...src, usage: { ...usage, used: 0 } })?.finish, '2026-11-29T10:00:20.000Z');
  assert.equal(estimateRunning({ ...live, scopeCount: 9 }, src), undefined, 'not a full run\'s scopes: not estimated');
});
