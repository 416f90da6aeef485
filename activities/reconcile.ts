// Reconciliation activities: list e-conomic page by page, compare each page with Postgres, and sync
// what is missing or stale. Most of a page goes the bulk lane (activities/bulk-sync.ts): fetched, its
// dependencies resolved once per page, committed many per transaction through the entity store, with no
// workflow per entity. An entity goes to its entity workflow (the EntityWorkflows port, the same
// signal-with-start path webhooks use) when that workflow is running (one visibility query per page), when
// sync_state holds a failed sync or a pending renumbering, when the bulk lane hands it back (a 404 since
// the listing, a failed fetch, a missing dependency, an integrity violation), and for every row only
// Postgres has (deletions). The activity never waits for an entity workflow: it returns what it
// signalled, and the reconcile workflow awaits the reports (workflows/reconcile.ts), holding no worker slot.
// The bulk commits of a page happen before the heartbeat of the next cursor, so a retried attempt lists
// that page again at worst, and finds what was committed equal to e-conomic.
//
// Watermarks cannot run ahead of what was compared: a `lastUpdated` scope's watermark is the instant its
// scan began (the next run re-lists from there minus the overlap), and booked invoices keep a number
// watermark of their own, the highest number a listing compared (docs/architecture.md). A full run's
// "Postgres has it, e-conomic does not" rows pass the deletion guard first: when the run would mark
// more than `maxDeleteShare` of the tenant's live rows deleted, it signals none of them and reports why.
//
// Memory is bounded by two pages (the one being synced, and the next, listed meanwhile so the fetches do
// not wait for a listing call; after a scope's last page, the next scope's first, kept for its activity
// on this worker: docs/architecture.md, "Reconciliation's bulk lane"): a page is compared with the rows of exactly its numbers, and for
// "Postgres has it, e-conomic no longer does" the numbers seen are written to `reconcile_seen` and the
// leftovers found in Postgres (a primary-key probe per stored row: src/store/entity-store.ts, unseenRowsQuery),
// read back in batches. Every page heartbeats a cursor
// (scope, skipPages or project cursor, orphan position, counts), so a retried attempt, on this worker or
// another, resumes where the last one was; a 429 fails the attempt with Retry-After as its retry delay.
// Listings take reconciliation's share of the agreement's daily call budget (src/access/call-budget.ts):
// when it is spent, the scope hands its cursor back as `budgetCut` and the workflow stores the resume point.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { filters, projectFilters, type BookedInvoice, type EconomicClient, type SalesDocument } from '../src/economic';
import type { EntityKind } from '../src/shared/entities';
import { FAILURE_TYPES } from '../src/shared/failure-types';
import {
  FIRST_RUN_ONLY_SCOPES,
  FULL_SCOPES,
  INCREMENTAL_SCOPES,
  TENANT_SCOPE,
  emptyCounts,
  reconcileEventId,
  type ReconcileMode,
  type ReconcileOptions,
  type DeletionGuardStop,
  type ReconcileBusy,
  type ReconcileResume,
  type ReconcileScope,
  type ReconcileSummary,
  type ScopeCounts,
  type ScopeCursor,
} from '../src/shared/reconcile';
import { entityChange, type EntityChange } from '../src/shared/sync-signals';
import type { EntityStore, StoredEntity } from '../src/store/entity-store';
import type { ReconcileStore } from '../src/store/reconcile-store';
import type { DocumentStatus } from '../src/sync/entity-record';
import { eachLimited } from '../src/util/each-limited';
import { bulkSync } from './bulk-sync';
import type { EconomicAccess, EconomicSession, TenantRef } from './economic-access';

/**
 * How reconciliation reaches entity workflows. Activities do not know Temporal's client: the
 * composition root (src/service.ts) implements this on it (src/temporal/signal-entity.ts).
 */
export interface EntityWorkflows {
  /** Hands the change to its entity's workflow (signal-with-start), as a webhook does. */
  notify(change: EntityChange): Promise<void>;
  /** The numbers of this tenant's entities of this kind whose entity workflow is running now (one visibility query). */
  running(tenant: string, kind: EntityKind): Promise<Set<number>>;
}

export interface ReconcileDeps {
  store: EntityStore;
  reconcileStore: ReconcileStore;
  access: EconomicAccess;
  entities?: EntityWorkflows;
}

export const DEFAULT_OVERLAP_MS = 5 * 60_000;
export const DEFAULT_MAX_DELETE_SHARE = 0.2;
/**
 * Entities one scope's activity fetches (bulk lane) or signals at once: 20, the e-conomic calls a worker
 * makes at once for syncs (its activity slots, src/worker.ts), which the bench's API-bound floor assumes.
 */
export const DEFAULT_CONCURRENCY = 20;
const ORPHAN_BATCH = 500;
/** The run's progress on the tenant's row is written at most this often (and on each activity's first page). */
const PROGRESS_EVERY_MS = 5_000;
const SEEN_KEPT_MS = 2 * 24 * 3600_000;
/** A next scope's first page, listed ahead, is used only this fresh; older, the scope lists it again. */
const LISTED_AHEAD_TTL_MS = 60_000;
/** Next-scope listings held at once per worker (one per tenant reconciling here, in practice). */
const LISTED_AHEAD_MAX = 32;

/** One listed entity, reduced to what the comparison needs. */
interface Listed {
  number: number;
  lastUpdated?: string | null;
  remainder?: number | null;
}

interface ListedPage {
  items: Listed[];
  /** e-conomic's count for the whole listing (`pagination.results`). */
  results?: number;
  nextSkipPages?: number;
  nextProjectCursor?: string;
}

/** The run's next scope, as listed ahead by the scope before it: its starting cursor and first page. */
interface ListedAhead {
  full: boolean;
  pageSize: number;
  at: number;
  listing: Promise<{ cursor: ScopeCursor; first: IteratorResult<ListedPage> }>;
}

interface ScopeDef {
  kind: EntityKind;
  /** For orders and quotes: the status rows of this listing have. */
  status?: DocumentStatus;
  /** e-conomic can filter this listing by lastUpdated. */
  byLastUpdated: boolean;
  list(client: EconomicClient, o: { filter?: string; skipPages?: number; projectCursor?: string; pageSize: number }): AsyncIterable<ListedPage>;
}

async function* restPages<T>(pages: AsyncIterable<{ items: T[]; nextSkipPages?: number; results?: number }>, map: (item: T) => Listed): AsyncGenerator<ListedPage> {
  for await (const page of pages) yield { items: page.items.map(map), nextSkipPages: page.nextSkipPages, results: page.results };
}

const doc = (key: 'orderNumber' | 'quoteNumber' | 'draftInvoiceNumber') => (d: SalesDocument): Listed => ({ number: d[key] as number, lastUpdated: d.lastUpdated ?? null });
const booked = (d: BookedInvoice): Listed => ({ number: d.bookedInvoiceNumber, remainder: d.remainder });

const SCOPES: Record<ReconcileScope, ScopeDef> = {
  customer: {
    kind: 'customer',
    byLastUpdated: true,
    list: (c, o) => restPages(c.customers({ ...rest(o), sort: 'customerNumber' }), (x) => ({ number: x.customerNumber, lastUpdated: x.lastUpdated ?? null })),
  },
  project: {
    kind: 'project',
    byLastUpdated: true,
    async *list(c, o) {
      for await (const page of c.projects({ cursor: o.projectCursor, filter: o.filter })) {
        yield { items: page.items.map((p) => ({ number: p.number, lastUpdated: p.lastUpdated ?? null })), nextProjectCursor: page.items.length > 0 ? page.cursor : undefined };
      }
    },
  },
  'order:drafts': { kind: 'order', status: 'draft', byLastUpdated: true, list: (c, o) => restPages(c.orders('drafts', { ...rest(o), sort: 'orderNumber' }), doc('orderNumber')) },
  'order:sent': { kind: 'order', status: 'sent', byLastUpdated: true, list: (c, o) => restPages(c.orders('sent', { ...rest(o), sort: 'orderNumber' }), doc('orderNumber')) },
  'order:archived': { kind: 'order', status: 'archived', byLastUpdated: false, list: (c, o) => restPages(c.orders('archived', { ...rest(o), sort: 'orderNumber' }), doc('orderNumber')) },
  'quote:drafts': { kind: 'quote', status: 'draft', byLastUpdated: true, list: (c, o) => restPages(c.quotes('drafts', { ...rest(o), sort: 'quoteNumber' }), doc('quoteNumber')) },
  'quote:sent': { kind: 'quote', status: 'sent', byLastUpdated: true, list: (c, o) => restPages(c.quotes('sent', { ...rest(o), sort: 'quoteNumber' }), doc('quoteNumber')) },
  'quote:archived': { kind: 'quote', status: 'archived', byLastUpdated: false, list: (c, o) => restPages(c.quotes('archived', { ...rest(o), sort: 'quoteNumber' }), doc('quoteNumber')) },
  'draft-invoice': { kind: 'draft-invoice', byLastUpdated: true, list: (c, o) => restPages(c.draftInvoices({ ...rest(o), sort: 'draftInvoiceNumber' }), doc('draftInvoiceNumber')) },
  'booked-invoice': { kind: 'booked-invoice', byLastUpdated: false, list: (c, o) => restPages(c.bookedInvoices({ ...rest(o), sort: 'bookedInvoiceNumber' }), booked) },
  'booked-invoice:new': { kind: 'booked-invoice', byLastUpdated: false, list: (c, o) => restPages(c.bookedInvoices({ ...rest(o), sort: 'bookedInvoiceNumber' }), booked) },
  'booked-invoice:unpaid': { kind: 'booked-invoice', byLastUpdated: false, list: (c, o) => restPages(c.unpaidInvoices({ ...rest(o), sort: 'bookedInvoiceNumber' }), booked) },
};

function rest(o: { filter?: string; skipPages?: number; pageSize: number }) {
  return { filter: o.filter, skipPages: o.skipPages ?? 0, pageSize: o.pageSize };
}

/** Scopes whose full set is compared both ways (rows only Postgres has are signalled too). */
function comparesBothWays(scope: ReconcileScope, full: boolean): boolean {
  return full || scope === 'booked-invoice:unpaid';
}

export interface BeginReconcileInput extends TenantRef {
  mode: ReconcileMode;
  fullEveryMs?: number;
  /** The run's workflow id: the run claims its tenant under it (absent in runs begun before claims). */
  workflowId?: string;
}

/** What a run begins with: its mode and scopes, or the run that holds the tenant (then it does nothing). */
export interface BeganReconcile {
  full: boolean;
  scopes: ReconcileScope[];
  resume?: ReconcileResume;
  busy?: ReconcileBusy;
}

export interface ReconcileScopeInput extends TenantRef {
  runId: string;
  scope: ReconcileScope;
  full: boolean;
  cursor?: ScopeCursor;
  /** Listing calls this attempt may make before handing the cursor back. */
  maxPages: number;
  /** Bounded fan-out: once this many entities are signalled, the page is finished and the cursor handed back. */
  maxSignals?: number;
  /** The workflow execution whose event ids the signals carry (defaults to `runId`). */
  signalRunId?: string;
  /** The reconcile workflow that awaits the entities' `entityDone` reports; none: nobody waits. */
  replyTo?: string;
  /** Rows the run's earlier scopes would mark deleted (the deletion guard counts the whole run). */
  deletionCandidates?: number;
  /** Where the scope is in its run, for the progress on the tenant's row. */
  position?: { scopeIndex: number; scopeCount: number; checkedBefore: number };
  /** The run's next scope: its first page is listed while this scope's last page is synced (see `nextScopeListings`). */
  nextScope?: ReconcileScope;
  options?: ReconcileOptions;
}

export interface ReconcileScopeResult {
  done: boolean;
  cursor: ScopeCursor;
  /** The entities this call signalled: the workflow awaits their reports. */
  signalled: Array<{ kind: EntityKind; number: number }>;
  /** The run's deletion candidates so far, this scope's included once it passed the guard. */
  deletionCandidates: number;
  /** Set when the deletion guard stopped this scope's deletions. */
  guard?: DeletionGuardStop;
  /** Reconciliation's share of the agreement's daily call budget is spent: the run stops here and resumes later. */
  budgetCut?: boolean;
}

const num = (v: unknown): number | null => (v === null || v === undefined || v === '' ? null : Number(v));

function needsSync(item: Listed, row: StoredEntity | undefined, status: DocumentStatus | undefined): boolean {
  if (!row || row.deletedAt) return true;
  if (status !== undefined && row.status !== status) return true;
  if (item.lastUpdated) {
    if (!row.lastUpdated || row.lastUpdated.getTime() !== Date.parse(item.lastUpdated)) return true;
  }
  if (item.remainder !== undefined && num(item.remainder) !== num(row.remainder)) return true;
  return false;
}

export function createReconcileActivities(deps: ReconcileDeps) {
  const { store, reconcileStore } = deps;
  // Scopes run one activity after another, and each began with its listing call (one e-conomic latency,
  // ~0.15 s, with nothing else in flight). So the scope that lists its last page starts the next scope's
  // listing, and the next scope's activity takes it from here when it runs on this worker (on another
  // worker it lists as before: one listing call spent twice). Keyed by tenant, run and scope.
  const nextScopeListings = new Map<string, ListedAhead>();
  const aheadKey = (input: Pick<ReconcileScopeInput, 'tenantId' | 'runId'>, scope: ReconcileScope) => `${input.tenantId}/${input.runId}/${scope}`;

  /** Lists the first page of the run's next scope, from its own fresh cursor (its scan starts now, before the listing). */
  function listNextScope(input: ReconcileScopeInput, session: EconomicSession, pageSize: number): void {
    const next = input.nextScope;
    // A kind e-conomic refuses us is skipped without a call (activities/forbidden-kinds.ts).
    if (!next || session.isForbidden(SCOPES[next].kind)) return;
    const now = Date.now();
    for (const [key, entry] of nextScopeListings) if (now - entry.at > LISTED_AHEAD_TTL_MS || nextScopeListings.size >= LISTED_AHEAD_MAX) nextScopeListings.delete(key);
    const nextInput: ReconcileScopeInput = { ...input, scope: next, cursor: undefined, nextScope: undefined };
    const listing = (async () => {
      const cursor = await startCursor(nextInput, input.options?.overlapMs ?? DEFAULT_OVERLAP_MS);
      const pages = SCOPES[next].list(session.client, { filter: cursor.filter, skipPages: 0, pageSize })[Symbol.asyncIterator]();
      return { cursor, first: await session.run(() => pages.next()) };
    })();
    // A failed listing is met by the next scope, which then lists for itself.
    listing.catch(() => undefined);
    nextScopeListings.set(aheadKey(input, next), { full: input.full, pageSize, at: now, listing });
  }

  /** The listing the scope before this one made for it, if this worker has it fresh and it succeeded. */
  async function takeListedAhead(input: ReconcileScopeInput, pageSize: number): Promise<{ cursor: ScopeCursor; first: IteratorResult<ListedPage> } | undefined> {
    const key = aheadKey(input, input.scope);
    const entry = nextScopeListings.get(key);
    if (!entry) return undefined;
    nextScopeListings.delete(key);
    if (entry.full !== input.full || entry.pageSize !== pageSize || Date.now() - entry.at > LISTED_AHEAD_TTL_MS) return undefined;
    try {
      return await entry.listing;
    } catch {
      return undefined;
    }
  }

  async function startCursor(input: ReconcileScopeInput, overlapMs: number): Promise<ScopeCursor> {
    const def = SCOPES[input.scope];
    const cursor: ScopeCursor = { runId: input.runId, scope: input.scope, phase: 'list', skipPages: 0, counts: emptyCounts(), scanStartedAt: new Date().toISOString() };
    if (input.full) return cursor;
    if (def.byLastUpdated) {
      const state = await reconcileStore.scopeState(input.tenantId, input.scope);
      // The Projects API writes instants without a zone (docs/economic-api.md): its own filter form.
      if (state?.watermark) cursor.filter = (def.kind === 'project' ? projectFilters : filters).lastUpdatedAfter(new Date(state.watermark.getTime() - overlapMs));
    } else if (input.scope === 'booked-invoice:new') {
      // Reconciliation's own number watermark (the full scan's or the last incremental's), never the
      // highest number stored: a webhook for 105 must not hide lost ones for 101–104.
      const states = await Promise.all([reconcileStore.scopeState(input.tenantId, 'booked-invoice'), reconcileStore.scopeState(input.tenantId, 'booked-invoice:new')]);
      const highest = Math.max(0, ...states.map((s) => s?.numberWatermark ?? 0));
      if (highest > 0) cursor.filter = filters.gt('bookedInvoiceNumber', highest);
    }
    return cursor;
  }

  function unseenQuery(input: ReconcileScopeInput) {
    const def = SCOPES[input.scope];
    return { kind: def.kind, runId: input.runId, scope: input.scope, status: def.status, unpaidOnly: input.scope === 'booked-invoice:unpaid' };
  }

  async function orphanBatch(input: ReconcileScopeInput, after: number, limit: number): Promise<number[]> {
    return store.unseenRows(input.tenantId, { ...unseenQuery(input), after, limit: Math.max(1, Math.min(ORPHAN_BATCH, limit)) });
  }

  /**
   * The deletion guard: a full run's missing rows would be marked deleted by their entity workflows.
   * Counted before any is signalled; when the run's candidates exceed the tenant's share, none is.
   */
  async function deletionGuard(input: ReconcileScopeInput): Promise<{ candidates: number; stop?: DeletionGuardStop }> {
    // Rows missing from the unpaid listing are paid, not deleted; only full runs delete.
    if (!input.full || input.scope === 'booked-invoice:unpaid') return { candidates: 0 };
    const candidates = await store.countUnseenRows(input.tenantId, unseenQuery(input));
    if (candidates === 0 || input.options?.allowMassDelete) return { candidates };
    const maxShare = input.options?.maxDeleteShare ?? DEFAULT_MAX_DELETE_SHARE;
    const rows = await store.liveRowCount(input.tenantId);
    const total = (input.deletionCandidates ?? 0) + candidates;
    if (total <= maxShare * rows) return { candidates };
    return { candidates, stop: { scope: input.scope, candidates: total, rows, maxShare } };
  }

  function entityWorkflows(): EntityWorkflows {
    if (!deps.entities) throw ApplicationFailure.nonRetryable('reconciliation needs the entity workflows port in the activity dependencies', FAILURE_TYPES.reconcileMisconfigured);
    return deps.entities;
  }

  /** `order:sent` → look in sent first: the entity's fetch then costs one call, not up to three. */
  function stateHintOf(scope: ReconcileScope) {
    const state = scope.split(':')[1];
    return state === 'drafts' || state === 'sent' || state === 'archived' ? state : undefined;
  }

  /**
   * Which of a listed page's missing and stale entities need their entity workflow from the start (the
   * rest goes the bulk lane): those whose workflow is running, or whose sync_state asks for one.
   */
  async function routeListed(input: ReconcileScopeInput, kind: EntityKind, numbers: number[]): Promise<{ toWorkflow: number[]; bulk: number[] }> {
    if (numbers.length === 0 || input.options?.bulk === false) return { toWorkflow: numbers, bulk: [] };
    // A running entity workflow owns its entity's syncs (coalescing, renumbering, report back): leave it there.
    const running = await entityWorkflows().running(input.tenant, kind);
    const special = await store.needingWorkflow(input.tenantId, kind, numbers);
    const toWorkflow = numbers.filter((n) => running.has(n) || special.has(n));
    return { toWorkflow, bulk: numbers.filter((n) => !running.has(n) && !special.has(n)) };
  }

  /** The bulk lane's part of a page: committed here; returns the ones it hands back to their workflows. */
  async function syncInBulk(input: ReconcileScopeInput, session: EconomicSession, kind: EntityKind, numbers: number[], counts: ScopeCounts): Promise<number[]> {
    if (numbers.length === 0) return [];
    const result = await bulkSync(session, store, { tenantId: input.tenantId, tenant: input.tenant, kind, numbers, stateHint: stateHintOf(input.scope), concurrency: input.options?.concurrency ?? DEFAULT_CONCURRENCY });
    counts.bulk = (counts.bulk ?? 0) + result.committed;
    return result.handOver;
  }

  /** Hands each entity to its workflow (bounded concurrency); the workflow awaits their reports. */
  async function syncEntities(input: ReconcileScopeInput, kind: EntityKind, numbers: number[], counts: ScopeCounts, signalled: ReconcileScopeResult['signalled']): Promise<void> {
    const entities = entityWorkflows();
    const receivedAt = new Date();
    const stateHint = stateHintOf(input.scope);
    await eachLimited(numbers, input.options?.concurrency ?? DEFAULT_CONCURRENCY, async (number) => {
      const change = entityChange(
        { tenantId: input.tenantId, tenant: input.tenant, kind, number },
        { eventId: reconcileEventId(input.signalRunId ?? input.runId, kind, number), source: 'reconcile', receivedAt, stateHint, replyTo: input.replyTo },
      );
      await entities.notify(change);
      counts.signalled += 1;
      signalled.push({ kind, number });
    });
  }

  /** The run's progress on the tenant's row: this scope's counts, e-conomic's total, the rate and ETA. */
  async function recordProgress(input: ReconcileScopeInput, cursor: ScopeCursor): Promise<void> {
    const now = Date.now();
    const elapsed = Math.max(1, now - (cursor.scanStartedAt ? Date.parse(cursor.scanStartedAt) : now)) / 1000;
    const c = cursor.counts;
    const ratePerSecond = c.checked / elapsed;
    const left = cursor.total !== undefined ? Math.max(0, cursor.total - c.checked) : undefined;
    await reconcileStore.recordProgress(input.tenantId, {
      runId: input.runId,
      full: input.full,
      scope: input.scope,
      scopeIndex: input.position?.scopeIndex ?? 0,
      scopeCount: input.position?.scopeCount ?? 1,
      checkedBefore: input.position?.checkedBefore ?? 0,
      checked: c.checked,
      ...(cursor.total !== undefined ? { total: cursor.total } : {}),
      bulk: c.bulk ?? 0,
      signalled: c.signalled,
      ratePerSecond,
      ...(left !== undefined && ratePerSecond > 0 ? { etaSeconds: left / ratePerSecond } : {}),
      updatedAt: new Date(now).toISOString(),
    });
  }

  async function finishScope(input: ReconcileScopeInput, cursor: ScopeCursor): Promise<void> {
    const def = SCOPES[input.scope];
    await reconcileStore.finishScope(input.tenantId, input.runId, input.scope, {
      full: input.full,
      // What was compared, not the greatest lastUpdated seen: a change on a page already compared during
      // the scan is later than its start, so the next run (from here minus the overlap) lists it.
      watermark: def.byLastUpdated && cursor.scanStartedAt ? new Date(cursor.scanStartedAt) : null,
      numberWatermark: def.kind === 'booked-invoice' && input.scope !== 'booked-invoice:unpaid' ? (cursor.maxNumber ?? null) : null,
      // A full listing's size is kept as `fullTotal`: the next full run's estimate of this scope's work
      // before it lists it (src/shared/run-estimate.ts; e-conomic's count, or what was compared when it gives none).
      summary: input.full ? { ...cursor.counts, fullTotal: cursor.total ?? cursor.counts.checked } : cursor.counts,
    });
  }

  return {
    /** Lists one scope from its cursor, at most `maxPages` calls, and signals what differs. */
    async reconcileScope(input: ReconcileScopeInput): Promise<ReconcileScopeResult> {
      const ctx = Context.current();
      const def = SCOPES[input.scope];
      const pageSize = input.options?.pageSize ?? 1000;
      const bothWays = comparesBothWays(input.scope, input.full);
      const resumed = ctx.info.heartbeatDetails as ScopeCursor | undefined;
      const resuming = resumed && resumed.runId === input.runId && resumed.scope === input.scope;
      // A fresh scope whose first page the scope before it listed: that page is this attempt's first listing call.
      const ahead0 = resuming || input.cursor ? undefined : await takeListedAhead(input, pageSize);
      let cursor: ScopeCursor = resuming ? resumed : (input.cursor ?? ahead0?.cursor ?? (await startCursor(input, input.options?.overlapMs ?? DEFAULT_OVERLAP_MS)));
      // Work counts into a copy; the heartbeat always carries the last completed position and its counts,
      // so a resumed attempt neither skips nor double-counts a page.
      const counts: ScopeCounts = { ...cursor.counts };
      let committed: ScopeCursor = { ...cursor, counts: { ...counts } };
      const signalled: ReconcileScopeResult['signalled'] = [];
      const maxSignals = input.maxSignals ?? Infinity;
      const prior = input.deletionCandidates ?? 0;
      const handBack = (): ReconcileScopeResult => ({ done: false, cursor: committed, signalled, deletionCandidates: prior + (committed.candidates ?? 0) });
      const beat = () => ctx.heartbeat(committed);
      const commit = (next: ScopeCursor) => {
        cursor = next;
        committed = { ...next, counts: { ...counts } };
        beat();
      };
      let progressAt = 0;
      const progress = async (force = false) => {
        if (!force && Date.now() - progressAt < PROGRESS_EVERY_MS) return;
        progressAt = Date.now();
        await recordProgress(input, committed);
      };
      beat();
      const ticker = setInterval(beat, 5_000);
      try {
        if (cursor.phase === 'list') {
          const session = await deps.access.open(input, ctx.cancellationSignal, { priority: 'reconcile' });
          // After a page listed ahead, the listing goes on from the page after it.
          const from = ahead0 && !ahead0.first.done ? { skipPages: ahead0.first.value.nextSkipPages, projectCursor: ahead0.first.value.nextProjectCursor } : cursor;
          const pages = def.list(session.client, { filter: cursor.filter, skipPages: from.skipPages, projectCursor: from.projectCursor, pageSize })[Symbol.asyncIterator]();
          const list = () => session.run(() => pages.next());
          let calls = ahead0 ? 1 : 0;
          // The next page's listing, started while this page's entities are fetched and committed (one
          // ahead, never more: at most two pages in memory). Only the heartbeat's cursor says how far the
          // scope got, and it moves after a page's commits, so a listed-ahead page that is never synced
          // (the attempt failed, or handed back) is listed again by the next attempt.
          let ahead: Promise<IteratorResult<ListedPage>> | undefined = ahead0 ? Promise.resolve(ahead0.first) : undefined;
          let previousItems = 0;
          for (;;) {
            let next;
            const listedAhead = ahead !== undefined;
            try {
              // A page listed ahead is dropped here: the next attempt lists it again from the cursor.
              if (signalled.length >= maxSignals) return handBack();
              if (ahead) {
                next = await ahead;
                ahead = undefined;
              } else {
                if (calls >= input.maxPages) return handBack();
                calls += 1;
                next = await list();
              }
            } catch (err) {
              // Nothing was called: yield the rest of the day's budget to webhook syncs. A listed-ahead
              // page hands back at the cursor after the page before it, which is committed.
              if (err instanceof ApplicationFailure && err.type === FAILURE_TYPES.budgetExhausted) return { ...handBack(), budgetCut: true };
              throw err;
            }
            counts.calls += 1;
            const page = next.done ? undefined : next.value;
            const items = page?.items ?? [];
            // A page listed ahead arrived while the one before it was still being synced.
            counts.peakItemsInMemory = Math.max(counts.peakItemsInMemory, items.length + (listedAhead ? previousItems : 0));
            previousItems = items.length;
            counts.checked += items.length;
            let maxLastUpdated = cursor.maxLastUpdated;
            let maxNumber = cursor.maxNumber;
            for (const item of items) {
              if (item.lastUpdated && (!maxLastUpdated || Date.parse(item.lastUpdated) > Date.parse(maxLastUpdated))) maxLastUpdated = item.lastUpdated;
              if (maxNumber === undefined || item.number > maxNumber) maxNumber = item.number;
            }
            const more = page !== undefined && (page.nextSkipPages !== undefined || page.nextProjectCursor !== undefined);
            if (bothWays) await reconcileStore.recordSeen(input.tenantId, input.runId, input.scope, items.map((i) => i.number));
            const stored = await store.versionsOf(input.tenantId, def.kind, items.map((i) => i.number));
            const stale = items.filter((i) => needsSync(i, stored.get(i.number), def.status)).map((i) => i.number);
            const routed = await routeListed(input, def.kind, stale);
            // List the next page now, unless this attempt will hand back before syncing it: out of listing
            // calls, or this page's workflow entities reach the fan-out bound (the bulk lane's hand-overs,
            // rare, can still reach it: then one listing was made for nothing).
            if (more && calls < input.maxPages && signalled.length + routed.toWorkflow.length < maxSignals) {
              calls += 1;
              ahead = list();
              // Its failure is met when this page is done, or never (this page failed first).
              ahead.catch(() => undefined);
            }
            // The scope's last page: the next scope's listing goes out while this page is synced, if the
            // run's listing calls allow one more (this attempt's allowance is what the run has left, at most).
            if (!more && calls < input.maxPages) listNextScope(input, session, pageSize);
            let toWorkflow;
            try {
              toWorkflow = [...routed.toWorkflow, ...(await syncInBulk(input, session, def.kind, routed.bulk, counts))];
            } catch (err) {
              // The page's fetches met the spent budget: hand back before this page (what it committed compares equal when it is listed again).
              if (err instanceof ApplicationFailure && err.type === FAILURE_TYPES.budgetExhausted) return { ...handBack(), budgetCut: true };
              throw err;
            }
            await syncEntities(input, def.kind, toWorkflow, counts, signalled);
            commit({
              ...cursor,
              maxLastUpdated,
              maxNumber,
              total: cursor.total ?? page?.results,
              skipPages: page?.nextSkipPages,
              projectCursor: page?.nextProjectCursor,
              ...(more ? {} : { phase: 'orphans' as const, afterNumber: 0 }),
            });
            // The listing's last page: its final counts, however recent the last write.
            await progress(!more);
            if (!more) break;
          }
        }
        if (bothWays) {
          if (cursor.candidates === undefined) {
            const guard = await deletionGuard(input);
            if (guard.stop) {
              // Nothing signalled: the scope ends here, loud in the summary and in `status`.
              await finishScope(input, committed);
              return { done: true, cursor: committed, signalled, deletionCandidates: prior, guard: guard.stop };
            }
            commit({ ...cursor, candidates: guard.candidates });
          }
          for (;;) {
            if (signalled.length >= maxSignals) return handBack();
            const numbers = await orphanBatch(input, cursor.afterNumber ?? 0, maxSignals - signalled.length);
            if (numbers.length === 0) break;
            counts.checked += numbers.length;
            await syncEntities(input, def.kind, numbers, counts, signalled);
            commit({ ...cursor, afterNumber: numbers[numbers.length - 1] });
          }
        }
        await finishScope(input, committed);
        return { done: true, cursor: committed, signalled, deletionCandidates: prior + (committed.candidates ?? 0) };
      } finally {
        clearInterval(ticker);
      }
    },
  };
}

/** The run's beginning and end: database-only, so they belong to the bookkeeping group. */
export function createReconcileBookkeeping(deps: { reconcileStore: ReconcileStore }) {
  const { reconcileStore } = deps;
  return {
    /**
     * Claims the tenant for this run, then decides full or incremental and the scopes. While another run
     * holds the tenant, this one gets no scopes: two runs would list and fetch everything twice.
     */
    async beginReconcile(input: BeginReconcileInput): Promise<BeganReconcile> {
      if (input.workflowId !== undefined) {
        const claim = await reconcileStore.claimRun(input.tenantId, input.workflowId);
        if (!claim.claimed) return { full: false, scopes: [], busy: { workflowId: claim.holder, ...(claim.until ? { until: claim.until.toISOString() } : {}) } };
      }
      const tenantState = await reconcileStore.scopeState(input.tenantId, TENANT_SCOPE);
      const lastFull = tenantState?.lastFullRunAt?.getTime();
      const fullEveryMs = input.fullEveryMs ?? 24 * 3600_000;
      // A minute's slack, so a schedule firing on the dot does not wait for its next interval.
      const full = input.mode === 'full' || (input.mode === 'auto' && (lastFull === undefined || Date.now() - lastFull >= fullEveryMs - 60_000));
      // A run of the same mode cut short by its call budget: go on where it stopped, so later scopes
      // are not starved by earlier ones listed again and again.
      const resume = tenantState?.resume as ReconcileResume | null | undefined;
      if (resume && resume.full === full && resume.scopeIndex < resume.scopes.length) return { full, scopes: resume.scopes, resume };
      // Rows of runs that crashed for good.
      await reconcileStore.pruneSeen(input.tenantId, new Date(Date.now() - SEEN_KEPT_MS));
      if (full) return { full, scopes: [...FULL_SCOPES] };
      const scopes: ReconcileScope[] = [...INCREMENTAL_SCOPES];
      for (const scope of FIRST_RUN_ONLY_SCOPES) {
        if (!(await reconcileStore.scopeState(input.tenantId, scope))) scopes.splice(scopes.indexOf('booked-invoice:new'), 0, scope);
      }
      return { full, scopes };
    },

    /** Records the run on the tenant's row (read by `auto` runs and by `status`). */
    async finishReconcile(input: { tenantId: number; summary: ReconcileSummary; resume?: ReconcileResume; workflowId?: string }): Promise<void> {
      const s = input.summary;
      // A full run counts as one only when it compared (and deleted) everything.
      const complete = s.full && !s.budgetExhausted && !s.guard?.length && !s.errors?.length;
      // A run of the other mode leaves a stored resume point alone (a manual incremental run between two
      // budget-cut full runs must not send the next full run back to its first scope).
      const stored = input.resume ? undefined : ((await reconcileStore.scopeState(input.tenantId, TENANT_SCOPE))?.resume as ReconcileResume | null | undefined);
      const resume = input.resume ?? (stored && stored.full !== s.full ? undefined : null);
      // Releases the run's claim on the tenant too.
      await reconcileStore.finishRun(input.tenantId, { full: complete, summary: s, resume, workflowId: input.workflowId });
    },
  };
}
