// `npm run bench`: starts its own Temporal dev server, Postgres database and fake e-conomic,
// runs each scenario against the real webhook server (a child process: src/service.ts startService),
// prints a table and writes bench/results.json. Every figure comes with a baseline measured in the same
// run, and the ratio. Knobs (env): BENCH_SCALE (multiplies every size, default 1), BENCH_ONLY
// (comma list: acceptance,e2e,reconcile,burst,topology,changefeed), BENCH_FEED_COMMITS, BENCH_ACCEPT_SECONDS, BENCH_E2E_EVENTS,
// BENCH_E2E_ENTITIES, BENCH_E2E_CONCURRENCY, BENCH_BURST, BENCH_BURST_ENTITIES, BENCH_BURST_CONCURRENCY,
// BENCH_RECONCILE_DOCS, BENCH_TOPOLOGY_EVENTS, BENCH_TOPOLOGY_ENTITIES, BENCH_TOPOLOGY_SECONDS,
// BENCH_TEMPORAL_SHARDS, BENCH_LOG_LEVEL (service log level, default info), BENCH_CPU_PROF=1 (profile
// the service during the acceptance run, summary in the results).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { createApiKey } from '../src/access/api-keys';
import { recordCandidate } from '../src/access/grants';
import { reconcile } from '../src/cli/reconcile';
import { loadConfig } from '../src/config';
import { queryRows } from '../src/db/client';
import { createSecretBox } from '../src/secrets/secret-box';
import type { ApiSource } from '../src/shared/entities';
import { startLocalTemporal, type LocalTemporal } from '../src/temporal/dev-server';
import { entityChange } from '../src/shared/sync-signals';
import { signalEntityChange } from '../src/temporal/signal-entity';
import { createTestDatabase, type TestDatabase } from '../test/helpers/database';
import { SOURCE_SCRIPT, startTemporalCluster } from '../test/helpers/temporal-cluster';
import { emitWebhooks, seedAgreement, startFakeEconomic, type FakeAgreement, type FakeEconomic, type SeedResult } from '../test/fake-economic';
import { changeFeedCost } from './changefeed';
import { startServerChild } from './lib/child';
import { plainCopy } from './lib/plain-copy';
import { hotFunctions, newestProfile, type HotFunction } from './lib/profile';
import { compareWithFake, countPresent, type DocKind, type EntityRef } from './lib/verify';

const env = process.env;
// The full sizes (10,000 webhooks, 100,000 documents and requests) take far longer than ~10 minutes on
// a 2-core machine, so the default scale is 0.1; BENCH_SCALE=1 runs the full sizes.
const SCALE = Number(env.BENCH_SCALE ?? 0.1);
const num = (name: string, dflt: number) => Math.max(1, Math.round(env[name] ? Number(env[name]) : dflt * SCALE));
/** Not scaled: durations and timeouts. */
const fixed = (name: string, dflt: number) => (env[name] ? Number(env[name]) : dflt);
const ONLY = new Set((env.BENCH_ONLY ?? 'acceptance,e2e,reconcile,burst,topology,changefeed').split(',').map((s) => s.trim()));

const SOURCE_OF: Record<DocKind, ApiSource> = {
  order: 'eConomicOrder',
  quote: 'eConomicOffer',
  'draft-invoice': 'eConomicInvoiceDraft',
  'booked-invoice': 'eConomicInvoicePosted',
};

interface Row {
  scenario: string;
  measure: string;
  value: string;
  baseline: string;
  ratio: string;
  notes?: string;
}
const rows: Row[] = [];
const details: Record<string, unknown> = {};
const fmt = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ratio = (a: number, b: number, digits = 2) => (b > 0 ? `${fmt(a / b, digits)}×` : 'n/a');
const log = (...args: unknown[]) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

interface Ctx {
  /** The Temporal the scenario's service processes use (the in-memory dev server, or a topology's backend). */
  temporal: Pick<LocalTemporal, 'address' | 'namespace'>;
  client: Client;
  database: TestDatabase;
  fake: FakeEconomic;
  secretsKeyHex: string;
}

function serviceEnv(ctx: Ctx, role: 'all' | 'api' | 'worker', taskQueue: string): Record<string, string> {
  return {
    ROLE: role,
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: ctx.database.url,
    TEMPORAL_ADDRESS: ctx.temporal.address,
    TEMPORAL_NAMESPACE: ctx.temporal.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ECONOMIC_REST_URL: ctx.fake.restUrl,
    ECONOMIC_PROJECTS_URL: ctx.fake.projectsUrl,
    ECONOMIC_APP_SECRET_TOKEN: ctx.fake.appSecretToken,
    SECRETS_KEY: ctx.secretsKeyHex,
    DATA_DIR: path.join(__dirname, '.data'),
    LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'info',
    METRICS_PORT: '0',
    // The benchmark measures capacity, not the per-key limit.
    RATE_LIMIT_PER_KEY: '100000000',
  };
}

async function tenantWithAgreement(ctx: Ctx, name: string): Promise<{ key: string; tenantId: number; grant: string; agreement: FakeAgreement }> {
  const created = await createApiKey(ctx.database.db, { tenant: name });
  const [row] = await queryRows<{ id: number }>(ctx.database.db, sql`select id from tenants where name = ${name}`);
  if (!row) throw new Error('tenant missing');
  const grant = `grant-${randomBytes(12).toString('hex')}`;
  const agreement = ctx.fake.addAgreement({ grantToken: grant, companyName: `${name} ApS` });
  return { key: created.key, tenantId: row.id, grant, agreement };
}

function refsOf(seed: SeedResult): EntityRef[] {
  return [
    ...[...seed.orders.drafts, ...seed.orders.sent, ...seed.orders.archived].map((number) => ({ kind: 'order' as const, number })),
    ...[...seed.quotes.drafts, ...seed.quotes.sent, ...seed.quotes.archived].map((number) => ({ kind: 'quote' as const, number })),
    ...seed.draftInvoices.map((number) => ({ kind: 'draft-invoice' as const, number })),
    ...seed.bookedInvoices.map((number) => ({ kind: 'booked-invoice' as const, number })),
  ];
}

/** Customers and projects every seeded agreement has, besides its documents. */
const SEEDED_DEPENDENCIES = { customers: 50, projects: 100 };

/** Documents split like a real agreement: 30% orders, 30% quotes, 20% draft, 20% booked invoices. */
function seedDocuments(agreement: FakeAgreement, documents: number): EntityRef[] {
  const perState = Math.max(1, Math.round((documents * 0.1)));
  const invoices = Math.max(1, Math.round(documents * 0.2));
  return refsOf(seedAgreement(agreement, { ...SEEDED_DEPENDENCIES, ordersPerState: perState, quotesPerState: perState, draftInvoices: invoices, bookedInvoices: invoices }));
}

/** Sends `perEntity` webhooks for each entity, every source at once, `concurrency` sockets in all. */
async function sendWebhooks(url: string, key: string, grant: string, refs: readonly EntityRef[], perEntity: number, concurrency: number, timeoutMs = 60_000) {
  const bySource = new Map<ApiSource, { number: number }[]>();
  for (let round = 0; round < perEntity; round++) {
    for (const ref of refs) {
      const source = SOURCE_OF[ref.kind];
      const list = bySource.get(source) ?? [];
      list.push({ number: ref.number });
      bySource.set(source, list);
    }
  }
  const total = refs.length * perEntity;
  const started = performance.now();
  const results = await Promise.all(
    [...bySource.entries()].map(([source, records]) =>
      emitWebhooks({
        url: `${url}/?APIKey=${key}&APISource=${source}`,
        records,
        template: `{"eConomicAPIKey":"${grant}","number":"${source === 'eConomicInvoicePosted' ? '[INVOICENO]' : '[NEWNUMBER]'}"}`,
        contentType: 'json',
        concurrency: Math.max(1, Math.round((concurrency * records.length) / total)),
        shuffle: { seed: 7 },
        timeoutMs,
      }),
    ),
  );
  const statuses = results.flatMap((r) => r.statuses);
  const sources = [...bySource.keys()];
  const counts: Record<string, number> = {};
  for (const s of statuses) counts[String(s)] = (counts[String(s)] ?? 0) + 1;
  const tagged = results.flatMap((r, i) => r.results.map((x) => ({ ...x, source: sources[i] as ApiSource })));
  return { ms: performance.now() - started, counts, results: tagged };
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  log(`gave up waiting for ${what} after ${timeoutMs / 1000}s`);
  return false;
}

async function syncedAndIdle(ctx: Ctx, tenant: string, tenantId: number, refs: readonly EntityRef[]): Promise<boolean> {
  if ((await countPresent(ctx.database.db, tenantId, refs)) < refs.length) return false;
  const [queued] = await queryRows<{ n: number }>(ctx.database.db, sql`select count(*)::int as n from sync_events where tenant_id = ${tenantId} and outcome = 'queued'`);
  if ((queued?.n ?? 0) > 0) return false;
  const running = await ctx.client.workflow.count(`EconomicTenant = "${tenant}" AND ExecutionStatus = "Running"`);
  return running.count === 0;
}

function metricOutcomes(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^economic_sync_webhook_events_total\{[^}]*outcome="([^"]+)"[^}]*\} (\d+)/gm)) {
    out[m[1] as string] = (out[m[1] as string] ?? 0) + Number(m[2]);
  }
  return out;
}

// ---------------------------------------------------------------- acceptance

async function autocannonRun(url: string, connections: number, seconds: number, body: () => { path: string; body: string }) {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    timeout: 30,
    requests: [
      {
        setupRequest: (req) => {
          const next = body();
          return { ...req, path: next.path, body: next.body };
        },
      },
    ],
  });
  return {
    rps: result.requests.total / (result.duration || seconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

async function rawSignals(ctx: Ctx, taskQueue: string, concurrency: number, seconds: number, firstNumber: number) {
  const latencies: number[] = [];
  let next = firstNumber;
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const number = next++;
        const t0 = performance.now();
        try {
          await signalEntityChange(
            ctx.client,
            taskQueue,
            entityChange({ tenantId: 1, tenant: 'bench-raw', kind: 'order', number }, { eventId: randomBytes(16).toString('hex'), source: 'eConomicOrder', receivedAt: new Date() }),
          );
          latencies.push(performance.now() - t0);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsed, p50: pct(50), p99: pct(99), total: latencies.length, errors };
}

async function acceptance(ctx: Ctx): Promise<void> {
  const seconds = fixed('BENCH_ACCEPT_SECONDS', 10);
  const t = await tenantWithAgreement(ctx, 'bench-accept');
  const profDir = path.join(__dirname, 'profiles');
  const profiling = env.BENCH_CPU_PROF === '1';
  if (profiling) mkdirSync(profDir, { recursive: true });
  const service = await startServerChild('service', serviceEnv(ctx, 'api', 'bench-accept'), profiling ? { cpuProfDir: profDir } : {});
  const bare = await startServerChild('bare', {});
  let number = 1;
  const webhookBody = () => ({ path: `/?APIKey=${t.key}&APISource=eConomicOrder`, body: `{"eConomicAPIKey":"${t.grant}","number":"${number++}"}` });
  const bareBody = () => ({ path: '/', body: `{"eConomicAPIKey":"${t.grant}","number":"${number++}"}` });
  const perConcurrency: Record<string, unknown> = {};
  try {
    // Warm up: JIT, connection pools, the auth cache.
    await autocannonRun(service.url, 10, 2, webhookBody);
    await autocannonRun(bare.url, 10, 1, bareBody);
    await rawSignals(ctx, 'bench-raw', 10, 1, 10_000_000);
    for (const connections of [50, 500]) {
      log(`acceptance at ${connections} connections (load ${load()})`);
      const before = metricOutcomes(await (await fetch(`${service.metricsUrl}/metrics`)).text());
      const hook = await autocannonRun(service.url, connections, seconds, webhookBody);
      const after = metricOutcomes(await (await fetch(`${service.metricsUrl}/metrics`)).text());
      const outcomes = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
      // Let the inbox relay drain what overflowed before the next measurement.
      await waitUntil('the inbox to drain', async () => {
        const [q] = await queryRows<{ n: number }>(ctx.database.db, sql`select count(*)::int as n from sync_events where outcome = 'queued'`);
        return (q?.n ?? 0) === 0;
      }, 120_000);
      const raw = await rawSignals(ctx, 'bench-raw', connections, seconds, 20_000_000 + connections * 1_000_000);
      const ceiling = await autocannonRun(bare.url, connections, seconds, bareBody);
      perConcurrency[connections] = { webhook: hook, outcomes, rawSignalWithStart: raw, bareFastify: ceiling, load: load() };
      const c = `acceptance c=${connections}`;
      rows.push(
        { scenario: c, measure: 'webhooks/s vs raw signalWithStart', value: fmt(hook.rps), baseline: fmt(raw.rps), ratio: ratio(hook.rps, raw.rps), notes: `202 via Temporal ${outcomes.signalled ?? 0}, via inbox ${outcomes.queued ?? 0}, 503 ${outcomes.unavailable ?? 0}, errors ${hook.errors + hook.timeouts}` },
        { scenario: c, measure: 'webhooks/s vs bare Fastify', value: fmt(hook.rps), baseline: fmt(ceiling.rps), ratio: ratio(hook.rps, ceiling.rps, 3) },
        { scenario: c, measure: 'p50 ms vs raw signalWithStart', value: fmt(hook.p50, 1), baseline: fmt(raw.p50, 1), ratio: ratio(hook.p50, raw.p50) },
        { scenario: c, measure: 'p99 ms vs raw signalWithStart', value: fmt(hook.p99, 1), baseline: fmt(raw.p99, 1), ratio: ratio(hook.p99, raw.p99) },
        { scenario: c, measure: 'p50 / p99 ms of bare Fastify', value: `${fmt(ceiling.p50, 1)} / ${fmt(ceiling.p99, 1)}`, baseline: '', ratio: '' },
      );
    }
  } finally {
    await Promise.all([service.stop(), bare.stop()]);
  }
  details.acceptance = { seconds, perConcurrency };
  if (profiling) {
    const file = newestProfile(profDir);
    if (file) {
      const hot = hotFunctions(file, 20);
      details.profile = { file: path.relative(process.cwd(), file), ...hot };
      log('service CPU profile (self time), top functions:');
      console.table(hot.functions.map((f: HotFunction) => ({ 'self ms': f.selfMs, '%': f.selfPct, function: f.fn })));
    }
  }
}

// ---------------------------------------------------------------- end to end

async function endToEnd(ctx: Ctx): Promise<void> {
  const events = num('BENCH_E2E_EVENTS', 10_000);
  const entities = Math.min(events, num('BENCH_E2E_ENTITIES', 2_000));
  const perEntity = Math.max(1, Math.round(events / entities));
  const concurrency = Number(env.BENCH_E2E_CONCURRENCY ?? 50);

  // Temporal path: the real service (webhook + worker in one process, ROLE=all).
  const a = await tenantWithAgreement(ctx, 'bench-e2e');
  const refs = seedDocuments(a.agreement, entities);
  const service = await startServerChild('service', serviceEnv(ctx, 'all', 'bench-e2e'));
  let temporalMs = NaN;
  let sent: Awaited<ReturnType<typeof sendWebhooks>> | undefined;
  let complete = false;
  try {
    log(`e2e via Temporal: ${refs.length * perEntity} webhooks over ${refs.length} entities, ${concurrency} sockets (load ${load()})`);
    const started = performance.now();
    sent = await sendWebhooks(service.url, a.key, a.grant, refs, perEntity, concurrency);
    log(`  all answered after ${fmt(sent.ms / 1000, 1)} s: ${JSON.stringify(sent.counts)}`);
    complete = await waitUntil('every row committed', () => syncedAndIdle(ctx, 'bench-e2e', a.tenantId, refs), fixed('BENCH_E2E_TIMEOUT_S', 900) * 1000);
    temporalMs = performance.now() - started;
  } finally {
    await service.stop();
  }
  const check = await compareWithFake(ctx.database.db, a.tenantId, a.agreement, refs);
  const temporalCalls = ctx.fake.calls(a.grant).total;

  // Baseline: the same webhooks, fetched and written inline in the request handler.
  const b = await tenantWithAgreement(ctx, 'bench-inline');
  const refsB = seedDocuments(b.agreement, entities);
  const inline = await startServerChild('inline', {
    DATABASE_URL: ctx.database.url,
    ECONOMIC_REST_URL: ctx.fake.restUrl,
    ECONOMIC_PROJECTS_URL: ctx.fake.projectsUrl,
    ECONOMIC_APP_SECRET_TOKEN: ctx.fake.appSecretToken,
  });
  let inlineSent: Awaited<ReturnType<typeof sendWebhooks>> | undefined;
  try {
    log(`e2e inline baseline (load ${load()})`);
    inlineSent = await sendWebhooks(inline.url, b.key, b.grant, refsB, perEntity, concurrency);
  } finally {
    await inline.stop();
  }
  const inlineCheck = await compareWithFake(ctx.database.db, b.tenantId, b.agreement, refsB);
  const inlineCalls = ctx.fake.calls(b.grant).total;
  const n = refs.length * perEntity;
  details.e2e = { events: n, entities: refs.length, concurrency, temporal: { ms: temporalMs, complete, answered: sent?.counts, webhookMs: sent?.ms, calls: temporalCalls, check: { ...check, missing: check.missing.length, mismatched: check.mismatched.slice(0, 10) } }, inline: { ms: inlineSent.ms, answered: inlineSent.counts, calls: inlineCalls, check: { ...inlineCheck, missing: inlineCheck.missing.length, mismatched: inlineCheck.mismatched.slice(0, 10) } } };
  const s = `e2e ${fmt(n)} ev / ${fmt(refs.length)} ent`;
  rows.push(
    { scenario: s, measure: 'seconds until every row committed vs inline', value: complete ? fmt(temporalMs / 1000, 1) : `>${fmt(temporalMs / 1000, 0)} (incomplete)`, baseline: fmt(inlineSent.ms / 1000, 1), ratio: ratio(temporalMs, inlineSent.ms), notes: `webhooks all answered after ${fmt((sent?.ms ?? 0) / 1000, 1)} s (${fmt(n / ((sent?.ms ?? 1) / 1000))}/s); rows ok ${check.present - check.mismatched.length}/${refs.length}, inline ok ${inlineCheck.present - inlineCheck.mismatched.length}/${refsB.length}` },
    { scenario: s, measure: 'e-conomic calls per event vs inline', value: fmt(temporalCalls / n, 3), baseline: fmt(inlineCalls / n, 3), ratio: ratio(temporalCalls, inlineCalls), notes: `${fmt(temporalCalls)} vs ${fmt(inlineCalls)} calls` },
  );
}

// ---------------------------------------------------------------- reconciliation

async function reconciliation(ctx: Ctx): Promise<void> {
  // Every document of an empty database becomes one entity workflow (~10/s on 2 cores with the dev
  // server), so the default is 2,000 at the default scale; the onboarding size: BENCH_RECONCILE_DOCS=100000.
  const docs = num('BENCH_RECONCILE_DOCS', 20_000);
  const workflowFile = path.join(__dirname, '..', 'workflows', 'reconcile.ts');
  if (!existsSync(workflowFile)) {
    rows.push({ scenario: `reconcile ${fmt(docs)} docs`, measure: 'not available', value: '-', baseline: '-', ratio: '-', notes: 'workflows/reconcile.ts does not exist on this branch yet' });
    return;
  }
  const t = await tenantWithAgreement(ctx, 'bench-reconcile');
  await recordCandidate(ctx.database.db, createSecretBox(Buffer.from(ctx.secretsKeyHex, 'hex')), t.tenantId, t.grant);
  const refs = seedDocuments(t.agreement, docs);
  const worker = await startServerChild('service', serviceEnv(ctx, 'worker', 'bench-reconcile'));
  const config = loadConfig({ ...process.env, ...serviceEnv(ctx, 'worker', 'bench-reconcile') });
  const idleRssMb = worker.rssMb();
  let ms = NaN;
  let summary = '';
  try {
    log(`reconcile ${fmt(refs.length)} documents (load ${load()})`);
    const started = performance.now();
    const out = await reconcile({ config, db: ctx.database.db, temporal: () => Promise.resolve(ctx.client) }, { tenant: 'bench-reconcile', full: true });
    ms = performance.now() - started;
    summary = out.stdout.trim().split('\n')[0] ?? '';
  } finally {
    await worker.stop();
  }
  const calls = ctx.fake.calls(t.grant).total;
  const present = await countPresent(ctx.database.db, t.tenantId, refs);

  // Baseline, same data, same run: a plain copy script without Temporal (bench/lib/plain-copy.ts).
  const b = await tenantWithAgreement(ctx, 'bench-reconcile-plain');
  const refsB = seedDocuments(b.agreement, docs);
  log(`plain copy of ${fmt(refsB.length)} documents (load ${load()})`);
  const plainStarted = performance.now();
  await plainCopy({ db: ctx.database.db, tenantId: b.tenantId, restUrl: ctx.fake.restUrl, projectsUrl: ctx.fake.projectsUrl, appSecretToken: ctx.fake.appSecretToken, grantToken: b.grant });
  const plainMs = performance.now() - plainStarted;
  const plainCalls = ctx.fake.calls(b.grant).total;
  const plainPresent = await countPresent(ctx.database.db, b.tenantId, refsB);

  // The least any copy can cost: every listing page once, and one fetch per entity (lines are only on single documents).
  const perState = Math.max(1, Math.round(docs * 0.1));
  const invoices = Math.max(1, Math.round(docs * 0.2));
  const listings = [SEEDED_DEPENDENCIES.customers, SEEDED_DEPENDENCIES.projects, perState, perState, perState, perState, perState, perState, invoices, invoices];
  const minimumCalls = listings.reduce((sum, n) => sum + Math.max(1, Math.ceil(n / 1000)), 0) + refs.length + SEEDED_DEPENDENCIES.customers + SEEDED_DEPENDENCIES.projects;

  details.reconcile = { documents: refs.length, ms, calls, present, idleRssMb, workerPeakRssMb: worker.peakRssMb(), summary, plain: { ms: plainMs, calls: plainCalls, present: plainPresent }, minimumCalls };
  const s = `reconcile ${fmt(refs.length)} docs`;
  rows.push(
    { scenario: s, measure: 'seconds (full run, empty database) vs plain copy script', value: fmt(ms / 1000, 1), baseline: fmt(plainMs / 1000, 1), ratio: ratio(ms, plainMs), notes: `rows present ${fmt(present)}/${fmt(refs.length)} (plain ${fmt(plainPresent)}); ${summary}` },
    { scenario: s, measure: 'e-conomic calls vs paging minimum', value: fmt(calls), baseline: fmt(minimumCalls), ratio: ratio(calls, minimumCalls), notes: `plain copy: ${fmt(plainCalls)} calls` },
    { scenario: s, measure: 'worker peak RSS MiB vs idle worker', value: fmt(worker.peakRssMb()), baseline: fmt(idleRssMb), ratio: ratio(worker.peakRssMb() ?? NaN, idleRssMb ?? NaN) },
  );
}

// ---------------------------------------------------------------- burst

async function burst(ctx: Ctx): Promise<void> {
  const requests = num('BENCH_BURST', 100_000);
  const entities = Math.min(requests, num('BENCH_BURST_ENTITIES', 10_000));
  const concurrency = Number(env.BENCH_BURST_CONCURRENCY ?? 1000);
  const t = await tenantWithAgreement(ctx, 'bench-burst');
  const refs = seedDocuments(t.agreement, entities);
  const perEntity = Math.max(1, Math.round(requests / refs.length));
  const service = await startServerChild('service', serviceEnv(ctx, 'all', 'bench-burst'));
  let sent: Awaited<ReturnType<typeof sendWebhooks>> | undefined;
  let drainMs = NaN;
  let complete = false;
  let ackedCount = 0;
  let outcomes: Record<string, number> = {};
  try {
    log(`burst: ${fmt(refs.length * perEntity)} webhooks over ${fmt(refs.length)} entities, ${concurrency} sockets (load ${load()})`);
    sent = await sendWebhooks(service.url, t.key, t.grant, refs, perEntity, concurrency, 30_000);
    log(`  answered in ${fmt(sent.ms / 1000, 1)} s: ${JSON.stringify(sent.counts)}`);
    const started = performance.now();
    const ackedKeys = new Set(sent.results.filter((r) => r.status === 202).map((r) => `${r.source}/${r.record.number}`));
    const acked = refs.filter((ref) => ackedKeys.has(`${SOURCE_OF[ref.kind]}/${ref.number}`));
    ackedCount = acked.length;
    outcomes = metricOutcomes(await (await fetch(`${service.metricsUrl}/metrics`)).text());
    complete = await waitUntil('every acknowledged event synced', () => syncedAndIdle(ctx, 'bench-burst', t.tenantId, acked), fixed('BENCH_BURST_TIMEOUT_S', 1200) * 1000, 1000);
    drainMs = performance.now() - started;
  } finally {
    await service.stop();
  }
  const n = refs.length * perEntity;
  const c = sent.counts;
  // Why the 503s: the API key could not be checked, or the event could be made durable nowhere.
  const why: Record<string, number> = {};
  for (const r of sent.results) {
    if (r.status !== 503) continue;
    const message = (/"message":"([^"]*)"/.exec(r.body)?.[1] ?? r.body).slice(0, 60);
    why[message] = (why[message] ?? 0) + 1;
  }
  const ok = c['202'] ?? 0;
  const check = await compareWithFake(ctx.database.db, t.tenantId, t.agreement, refs);
  const [events] = await queryRows<{ total: number; queued: number }>(
    ctx.database.db,
    sql`select count(*)::int as total, count(*) filter (where outcome = 'queued')::int as queued from sync_events where tenant_id = ${t.tenantId}`,
  );
  details.burst = { requests: n, entities: refs.length, concurrency, answered: c, outcomes, why503: why, answerMs: sent.ms, drainMs, complete, syncEvents: events, check: { ...check, missing: check.missing.length, mismatched: check.mismatched.slice(0, 10) } };
  const s = `burst ${fmt(n)} req / ${fmt(refs.length)} ent`;
  const noAnswer = c['0'] ?? 0;
  const others = Object.entries(c).filter(([k]) => !['202', '503', '0'].includes(k)).map(([k, v]) => `${k}: ${v}`).join(', ');
  rows.push(
    { scenario: s, measure: '202 / 503 / no answer', value: `${fmt(ok)} / ${fmt(c['503'] ?? 0)} / ${fmt(noAnswer)}`, baseline: fmt(n), ratio: ratio(ok, n, 3), notes: `service outcomes ${JSON.stringify(outcomes)}; 503 messages ${JSON.stringify(why)}; answered in ${fmt(sent.ms / 1000, 1)} s (${fmt(n / (sent.ms / 1000))}/s)${others ? `; other: ${others}` : ''}` },
    { scenario: s, measure: 'every 202 synced?', value: complete && check.mismatched.length === 0 ? 'yes' : 'NO', baseline: '', ratio: '', notes: `${fmt(check.present)} of ${fmt(ackedCount)} acknowledged entities (of ${fmt(refs.length)}) committed and equal to the fake, ${fmt(drainMs / 1000, 1)} s after the last answer; sync_events ${events?.total ?? 0} rows, ${events?.queued ?? 0} still queued` },
  );
}

// ---------------------------------------------------------------- topology

interface Backend {
  name: string;
  temporal: Pick<LocalTemporal, 'address' | 'namespace'>;
  stop(): Promise<void>;
}

/** The embedded default's dev server, with its state in a file as `npm start` keeps it, with or without WAL. */
async function devServerBackend(name: string, wal: boolean): Promise<Backend> {
  const dir = mkdtempSync(path.join(tmpdir(), 'economic-sync-bench-'));
  const server = await startLocalTemporal({ dbFilename: path.join(dir, 'temporal.sqlite'), wal });
  return { name, temporal: server, stop: async () => { await server.shutdown(); rmSync(dir, { recursive: true, force: true }); } };
}

/** A Temporal server on Postgres, provisioned with scripts/temporal-server.ts into fresh databases. */
async function clusterBackend(name: string): Promise<Backend> {
  const cluster = await startTemporalCluster({ script: SOURCE_SCRIPT, historyShards: fixed('BENCH_TEMPORAL_SHARDS', 4) });
  return { name, temporal: cluster, stop: () => cluster.stop() };
}

interface TopologyResult {
  backend: string;
  workers: number;
  webhooksPerS: number;
  e2eMs: number;
  complete: boolean;
  rowsOk: number;
  entities: number;
}

/** One ROLE=api process and `workers` ROLE=worker processes: webhooks until every row is committed. */
async function topologyRun(ctx: Ctx, backend: string, workers: number, run: number): Promise<TopologyResult> {
  const events = num('BENCH_TOPOLOGY_EVENTS', 10_000);
  const entities = Math.min(events, num('BENCH_TOPOLOGY_ENTITIES', 2_000));
  const perEntity = Math.max(1, Math.round(events / entities));
  const tenant = `bench-topology-${run}`;
  const t = await tenantWithAgreement(ctx, tenant);
  const refs = seedDocuments(t.agreement, entities);
  const taskQueue = `bench-topology-${run}`;
  const children = await Promise.all(Array.from({ length: workers }, () => startServerChild('service', serviceEnv(ctx, 'worker', taskQueue))));
  const api = await startServerChild('service', serviceEnv(ctx, 'api', taskQueue));
  children.push(api);
  try {
    log(`topology ${backend}, ${workers} worker process(es): ${refs.length * perEntity} webhooks over ${refs.length} entities (load ${load()})`);
    const started = performance.now();
    const sent = await sendWebhooks(api.url, t.key, t.grant, refs, perEntity, Number(env.BENCH_E2E_CONCURRENCY ?? 50));
    const complete = await waitUntil('every row committed', () => syncedAndIdle(ctx, tenant, t.tenantId, refs), fixed('BENCH_E2E_TIMEOUT_S', 900) * 1000);
    const e2eMs = performance.now() - started;
    const check = await compareWithFake(ctx.database.db, t.tenantId, t.agreement, refs);
    return { backend, workers, webhooksPerS: (refs.length * perEntity) / (sent.ms / 1000), e2eMs, complete, rowsOk: check.present - check.mismatched.length, entities: refs.length };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

async function topology(ctx: Ctx): Promise<void> {
  const seconds = fixed('BENCH_TOPOLOGY_SECONDS', 10);
  const specs = [
    { name: 'dev server, no WAL', start: () => devServerBackend('dev server, no WAL', false), workers: [1] },
    { name: 'dev server, WAL', start: () => devServerBackend('dev server, WAL', true), workers: [1, 2] },
    { name: 'Temporal on Postgres', start: () => clusterBackend('Temporal on Postgres'), workers: [1, 2] },
  ];
  const signals: Record<string, Awaited<ReturnType<typeof rawSignals>>> = {};
  const runs: TopologyResult[] = [];
  for (const spec of specs) {
    const backend = await spec.start();
    const connection = await Connection.connect({ address: backend.temporal.address });
    const on: Ctx = { ...ctx, temporal: backend.temporal, client: new Client({ connection, namespace: backend.temporal.namespace }) };
    try {
      log(`signal-with-start from one process on ${spec.name}, 50 at a time for ${seconds} s (load ${load()})`);
      await rawSignals(on, 'bench-topology-raw', 10, 1, 1);
      signals[spec.name] = await rawSignals(on, 'bench-topology-raw', 50, seconds, 1_000_000);
      for (const workers of spec.workers) runs.push(await topologyRun(on, spec.name, workers, runs.length + 1));
    } finally {
      await connection.close();
      await backend.stop();
    }
  }
  details.topology = { seconds, signals, runs };
  const rawOf = (name: string) => signals[name]?.rps ?? NaN;
  const noWal = 'dev server, no WAL';
  const wal = 'dev server, WAL';
  for (const name of Object.keys(signals)) {
    rows.push({ scenario: `topology: ${name}`, measure: 'signal-with-start/s from one process vs dev server without WAL', value: fmt(rawOf(name)), baseline: fmt(rawOf(noWal)), ratio: ratio(rawOf(name), rawOf(noWal)), notes: `p50 ${fmt(signals[name]?.p50, 1)} ms, p99 ${fmt(signals[name]?.p99, 1)} ms, errors ${signals[name]?.errors ?? 0}` });
  }
  const base = runs.find((r) => r.backend === wal && r.workers === 1);
  for (const r of runs) {
    const s = `topology: ${r.backend}, ${r.workers} worker${r.workers > 1 ? 's' : ''}`;
    rows.push(
      { scenario: s, measure: 'webhooks/s (1 API process) vs dev server WAL, 1 worker', value: fmt(r.webhooksPerS), baseline: fmt(base?.webhooksPerS), ratio: ratio(r.webhooksPerS, base?.webhooksPerS ?? NaN) },
      { scenario: s, measure: 'seconds until every row committed vs dev server WAL, 1 worker', value: r.complete ? fmt(r.e2eMs / 1000, 1) : `>${fmt(r.e2eMs / 1000, 0)} (incomplete)`, baseline: fmt((base?.e2eMs ?? NaN) / 1000, 1), ratio: ratio(r.e2eMs, base?.e2eMs ?? NaN), notes: `rows ok ${r.rowsOk}/${r.entities}` },
    );
  }
}

// ---------------------------------------------------------------- main

/** What the change feed (log row, per-tenant append lock, NOTIFY) adds to a commit, with and without it in one run. */
async function changefeed(ctx: Ctx): Promise<void> {
  const costs = await changeFeedCost(ctx.database, { commitsPerRound: num('BENCH_FEED_COMMITS', 2000), rounds: 6, writers: [1, 8] });
  details.changefeed = costs;
  for (const c of costs) {
    const overhead = (c.withFeedMs / c.withoutFeedMs - 1) * 100;
    rows.push({
      scenario: `change feed, ${c.writers} writer${c.writers === 1 ? '' : 's'} in one tenant`,
      measure: 'ms per commit (order + customer, 5 lines) with the feed vs without',
      value: fmt(c.withFeedMs, 2),
      baseline: fmt(c.withoutFeedMs, 2),
      ratio: ratio(c.withFeedMs, c.withoutFeedMs),
      notes: `${overhead >= 0 ? '+' : ''}${fmt(overhead, 1)} % per commit over ${fmt(c.commits)} commits each way, alternating rounds, one LISTEN client`,
    });
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  log(`machine: ${cpus().length} cores, ${fmt(totalmem() / 2 ** 30, 1)} GiB, load ${load()}; scale ${SCALE}`);
  const [temporal, database, fake] = await Promise.all([startLocalTemporal(), createTestDatabase('es_bench'), startFakeEconomic({ logCalls: false })]);
  const connection = await Connection.connect({ address: temporal.address });
  const ctx: Ctx = { temporal, client: new Client({ connection, namespace: temporal.namespace }), database, fake, secretsKeyHex: randomBytes(32).toString('hex') };
  const loads: Record<string, string> = { start: load() };
  try {
    for (const [name, run] of [['acceptance', acceptance], ['e2e', endToEnd], ['reconcile', reconciliation], ['burst', burst], ['topology', topology], ['changefeed', changefeed]] as const) {
      if (!ONLY.has(name)) continue;
      loads[`before ${name}`] = load();
      const t0 = performance.now();
      try {
        await run(ctx);
      } catch (err) {
        console.error(err);
        rows.push({ scenario: name, measure: 'FAILED', value: '-', baseline: '-', ratio: '-', notes: err instanceof Error ? err.message : String(err) });
      }
      log(`${name} took ${fmt((performance.now() - t0) / 1000, 0)} s`);
    }
  } finally {
    await connection.close();
    await Promise.allSettled([temporal.shutdown(), database.drop(), fake.close()]);
  }
  loads.end = load();
  console.log();
  console.table(rows.map((r) => ({ scenario: r.scenario, measure: r.measure, value: r.value, baseline: r.baseline, ratio: r.ratio, notes: r.notes ?? '' })));
  console.log('\n' + markdownTable());
  const results = {
    startedAt: startedAt.toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadavg: loads },
    knobs: Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('BENCH_'))),
    rows,
    details,
  };
  writeFileSync(env.BENCH_RESULTS ?? path.join(__dirname, 'results.json'), JSON.stringify(results, null, 2) + '\n');
}

function markdownTable(): string {
  const lines = ['| scenario | measure | value | baseline | ratio | notes |', '|---|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.scenario} | ${r.measure} | ${r.value} | ${r.baseline} | ${r.ratio} | ${r.notes ?? ''} |`);
  return lines.join('\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
