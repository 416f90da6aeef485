// Reconciliation activities: list e-conomic page by page, compare each page with Postgres, and
// send every entity that is missing, stale or gone through signalEntityChange, the same path webhooks
// use, so dependencies, ordering and coalescing come from the entity workflow.
//
// Memory is bounded by one page: a page is compared with the rows of exactly its numbers, and for
// "Postgres has it, e-conomic no longer does" the numbers seen are written to `reconcile_seen` and the
// leftovers found by an anti-join in Postgres, read back in batches. Every page heartbeats a cursor
// (scope, skipPages or project cursor, orphan position, counts), so a retried attempt, on this worker or
// another, resumes where the last one was; a 429 fails the attempt with Retry-After as its retry delay.
import { FAILURE_TYPES } from '../src/shared/failure-types';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, gt, inArray, isNull, lt, notExists, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../src/db/client';
import { economicBookedInvoices, reconcileSeen, reconcileState } from '../src/db/schema';
import { filters, projectFilters, type BookedInvoice, type EconomicClient, type SalesDocument } from '../src/economic';
import type { EntityKind } from '../src/shared/entities';
import {
  FIRST_RUN_ONLY_SCOPES,
  FULL_SCOPES,
  INCREMENTAL_SCOPES,
  TENANT_SCOPE,
  emptyCounts,
  reconcileEventId,
  type ReconcileMode,
  type ReconcileOptions,
  type ReconcileScope,
  type ReconcileSummary,
  type ScopeCounts,
  type ScopeCursor,
} from '../src/shared/reconcile';
import { KIND_TABLES } from '../src/sync/commit';
import type { DocumentStatus } from '../src/sync/entity-record';
import { signalEntityChange } from '../src/temporal/signal-entity';
import type { EntitySyncResult } from '../workflows/entity-sync';
import type { EconomicAccess, TenantRef } from './economic-access';

export interface ReconcileTemporal {
  client: Client;
  /** Task queue of the entity workflows that reconciliation signals. */
  taskQueue: string;
}

export interface ReconcileDeps {
  db: Database;
  access: EconomicAccess;
  temporal?: ReconcileTemporal;
}

export const DEFAULT_OVERLAP_MS = 5 * 60_000;
const ORPHAN_BATCH = 500;
const SEEN_KEPT_MS = 2 * 24 * 3600_000;

/** One listed entity, reduced to what the comparison needs. */
interface Listed {
  number: number;
  lastUpdated?: string | null;
  remainder?: number | null;
}

interface ListedPage {
  items: Listed[];
  nextSkipPages?: number;
  nextProjectCursor?: string;
}

interface ScopeDef {
  kind: EntityKind;
  /** For orders and quotes: the status rows of this listing have. */
  status?: DocumentStatus;
  /** e-conomic can filter this listing by lastUpdated. */
  byLastUpdated: boolean;
  list(client: EconomicClient, o: { filter?: string; skipPages?: number; projectCursor?: string; pageSize: number }): AsyncIterable<ListedPage>;
}

async function* restPages<T>(pages: AsyncIterable<{ items: T[]; nextSkipPages?: number }>, map: (item: T) => Listed): AsyncGenerator<ListedPage> {
  for await (const page of pages) yield { items: page.items.map(map), nextSkipPages: page.nextSkipPages };
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
}

export interface ReconcileScopeInput extends TenantRef {
  runId: string;
  scope: ReconcileScope;
  full: boolean;
  cursor?: ScopeCursor;
  /** Listing calls this attempt may make before handing the cursor back. */
  maxPages: number;
  options?: ReconcileOptions;
}

export interface ReconcileScopeResult {
  done: boolean;
  cursor: ScopeCursor;
}

interface StoredRow {
  number: number;
  lastUpdated: Date | null;
  deletedAt: Date | null;
  status?: string;
  remainder?: string | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined || v === '' ? null : Number(v));

function needsSync(item: Listed, row: StoredRow | undefined, status: DocumentStatus | undefined): boolean {
  if (!row || row.deletedAt) return true;
  if (status !== undefined && row.status !== status) return true;
  if (item.lastUpdated) {
    if (!row.lastUpdated || row.lastUpdated.getTime() !== Date.parse(item.lastUpdated)) return true;
  }
  if (item.remainder !== undefined && num(item.remainder) !== num(row.remainder)) return true;
  return false;
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function forEachLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}

export function createReconcileActivities(deps: ReconcileDeps) {
  const { db } = deps;

  async function readState(tenantId: number, scope: string) {
    const [row] = await db
      .select()
      .from(reconcileState)
      .where(and(eq(reconcileState.tenantId, tenantId), eq(reconcileState.scope, scope)));
    return row;
  }

  async function startCursor(input: ReconcileScopeInput, overlapMs: number): Promise<ScopeCursor> {
    const def = SCOPES[input.scope];
    const cursor: ScopeCursor = { runId: input.runId, scope: input.scope, phase: 'list', skipPages: 0, counts: emptyCounts() };
    if (input.full) return cursor;
    if (def.byLastUpdated) {
      const state = await readState(input.tenantId, input.scope);
      // The Projects API writes instants without a zone (docs/economic-api.md): its own filter form.
      if (state?.watermark) cursor.filter = (def.kind === 'project' ? projectFilters : filters).lastUpdatedAfter(new Date(state.watermark.getTime() - overlapMs));
    } else if (input.scope === 'booked-invoice:new') {
      const t = KIND_TABLES['booked-invoice'];
      const [row] = await db
        .select({ max: sql<number | null>`max(${t.number})` })
        .from(t.table)
        .where(eq(t.tenantId, input.tenantId));
      const highest = num(row?.max) ?? 0;
      if (highest > 0) cursor.filter = filters.gt('bookedInvoiceNumber', highest);
    }
    return cursor;
  }

  async function storedRows(tenantId: number, kind: EntityKind, numbers: number[]): Promise<Map<number, StoredRow>> {
    const t = KIND_TABLES[kind];
    if (numbers.length === 0) return new Map();
    const rows = (await db
      .select({
        number: t.number,
        lastUpdated: t.lastUpdated,
        deletedAt: t.deletedAt,
        ...(t.status ? { status: t.status } : {}),
        ...(kind === 'booked-invoice' ? { remainder: economicBookedInvoices.remainder } : {}),
      })
      .from(t.table)
      .where(and(eq(t.tenantId, tenantId), inArray(t.number, numbers)))) as StoredRow[];
    return new Map(rows.map((r) => [r.number, r]));
  }

  async function orphanBatch(input: ReconcileScopeInput, after: number): Promise<number[]> {
    const def = SCOPES[input.scope];
    const t = KIND_TABLES[def.kind];
    const conditions: Array<SQL | undefined> = [eq(t.tenantId, input.tenantId), isNull(t.deletedAt), gt(t.number, after)];
    if (def.status && t.status) conditions.push(eq(t.status, def.status));
    if (input.scope === 'booked-invoice:unpaid') conditions.push(sql`coalesce(${economicBookedInvoices.remainder}, 0) <> 0`);
    conditions.push(
      notExists(
        db
          .select({ one: sql`1` })
          .from(reconcileSeen)
          .where(
            and(
              eq(reconcileSeen.tenantId, input.tenantId),
              eq(reconcileSeen.runId, input.runId),
              eq(reconcileSeen.scope, input.scope),
              eq(reconcileSeen.number, t.number),
            ),
          ),
      ),
    );
    const rows = await db
      .select({ number: t.number })
      .from(t.table)
      .where(and(...conditions))
      .orderBy(t.number)
      .limit(ORPHAN_BATCH);
    return rows.map((r) => r.number as number);
  }

  /** Signals each entity's workflow and, when asked to, waits for it; bounded concurrency. */
  async function syncEntities(input: ReconcileScopeInput, kind: EntityKind, numbers: number[], counts: ScopeCounts): Promise<void> {
    const temporal = deps.temporal;
    if (!temporal) throw ApplicationFailure.nonRetryable('reconciliation needs a Temporal client in the activity dependencies', FAILURE_TYPES.reconcileMisconfigured);
    const wait = input.options?.waitForEntities ?? true;
    const receivedAt = new Date().toISOString();
    // `order:sent` → look in sent first: the entity's fetch then costs one call, not up to three.
    const state = input.scope.split(':')[1];
    const stateHint = state === 'drafts' || state === 'sent' || state === 'archived' ? state : undefined;
    await forEachLimit(numbers, input.options?.concurrency ?? 16, async (number) => {
      const workflowId = await signalEntityChange(temporal.client, temporal.taskQueue, {
        tenantId: input.tenantId,
        tenant: input.tenant,
        kind,
        number,
        event: { eventId: reconcileEventId(input.runId, kind, number), source: 'reconcile', receivedAt, stateHint },
      });
      counts.signalled += 1;
      if (!wait) return;
      try {
        const result = (await temporal.client.workflow.getHandle(workflowId).result()) as EntitySyncResult;
        if (result.lastOutcome === 'deleted') counts.deleted += 1;
        else counts.synced += 1;
      } catch {
        // The entity workflow failed visibly (Temporal UI, sync_state, `retry-failed`); the run goes on.
        counts.failed += 1;
      }
    });
  }

  async function finishScope(input: ReconcileScopeInput, cursor: ScopeCursor): Promise<void> {
    const now = new Date();
    const watermark = cursor.maxLastUpdated ? new Date(cursor.maxLastUpdated) : null;
    await db
      .insert(reconcileState)
      .values({
        tenantId: input.tenantId,
        scope: input.scope,
        watermark,
        lastRunAt: now,
        lastFullRunAt: input.full ? now : null,
        lastSummary: cursor.counts,
      })
      .onConflictDoUpdate({
        target: [reconcileState.tenantId, reconcileState.scope],
        set: {
          // The watermark only moves forward.
          watermark: sql`greatest(${reconcileState.watermark}, excluded.watermark)`,
          lastRunAt: now,
          lastFullRunAt: input.full ? now : sql`${reconcileState.lastFullRunAt}`,
          lastSummary: cursor.counts,
        },
      });
    await db
      .delete(reconcileSeen)
      .where(and(eq(reconcileSeen.tenantId, input.tenantId), eq(reconcileSeen.runId, input.runId), eq(reconcileSeen.scope, input.scope)));
  }

  return {
    /** Decides full or incremental and the scopes of this run. */
    async beginReconcile(input: BeginReconcileInput): Promise<{ full: boolean; scopes: ReconcileScope[] }> {
      const tenantState = await readState(input.tenantId, TENANT_SCOPE);
      const lastFull = tenantState?.lastFullRunAt?.getTime();
      const fullEveryMs = input.fullEveryMs ?? 24 * 3600_000;
      // A minute's slack, so a schedule firing on the dot does not wait for its next interval.
      const full = input.mode === 'full' || (input.mode === 'auto' && (lastFull === undefined || Date.now() - lastFull >= fullEveryMs - 60_000));
      // Rows of runs that crashed for good.
      await db.delete(reconcileSeen).where(and(eq(reconcileSeen.tenantId, input.tenantId), lt(reconcileSeen.seenAt, new Date(Date.now() - SEEN_KEPT_MS))));
      if (full) return { full, scopes: [...FULL_SCOPES] };
      const scopes: ReconcileScope[] = [...INCREMENTAL_SCOPES];
      for (const scope of FIRST_RUN_ONLY_SCOPES) {
        if (!(await readState(input.tenantId, scope))) scopes.splice(scopes.indexOf('booked-invoice:new'), 0, scope);
      }
      return { full, scopes };
    },

    /** Lists one scope from its cursor, at most `maxPages` calls, and signals what differs. */
    async reconcileScope(input: ReconcileScopeInput): Promise<ReconcileScopeResult> {
      const ctx = Context.current();
      const def = SCOPES[input.scope];
      const pageSize = input.options?.pageSize ?? 1000;
      const bothWays = comparesBothWays(input.scope, input.full);
      const resumed = ctx.info.heartbeatDetails as ScopeCursor | undefined;
      let cursor: ScopeCursor =
        resumed && resumed.runId === input.runId && resumed.scope === input.scope
          ? resumed
          : (input.cursor ?? (await startCursor(input, input.options?.overlapMs ?? DEFAULT_OVERLAP_MS)));
      // Work counts into a copy; the heartbeat always carries the last completed position and its counts,
      // so a resumed attempt neither skips nor double-counts a page.
      const counts: ScopeCounts = { ...cursor.counts };
      let committed: ScopeCursor = { ...cursor, counts: { ...counts } };
      const beat = () => ctx.heartbeat(committed);
      const commit = (next: ScopeCursor) => {
        cursor = next;
        committed = { ...next, counts: { ...counts } };
        beat();
      };
      beat();
      const ticker = setInterval(beat, 5_000);
      try {
        if (cursor.phase === 'list') {
          const session = await deps.access.open(input, ctx.cancellationSignal);
          const pages = def.list(session.client, { filter: cursor.filter, skipPages: cursor.skipPages, projectCursor: cursor.projectCursor, pageSize })[Symbol.asyncIterator]();
          let calls = 0;
          for (;;) {
            if (calls >= input.maxPages) return { done: false, cursor: committed };
            calls += 1;
            counts.calls += 1;
            const next = await session.run(() => pages.next());
            const page = next.done ? undefined : next.value;
            const items = page?.items ?? [];
            counts.peakItemsInMemory = Math.max(counts.peakItemsInMemory, items.length);
            counts.checked += items.length;
            let maxLastUpdated = cursor.maxLastUpdated;
            for (const item of items) {
              if (item.lastUpdated && (!maxLastUpdated || Date.parse(item.lastUpdated) > Date.parse(maxLastUpdated))) maxLastUpdated = item.lastUpdated;
            }
            if (bothWays && items.length > 0) {
              await db
                .insert(reconcileSeen)
                .values(items.map((i) => ({ tenantId: input.tenantId, runId: input.runId, scope: input.scope, number: i.number })))
                .onConflictDoNothing();
            }
            const stored = await storedRows(input.tenantId, def.kind, items.map((i) => i.number));
            const stale = items.filter((i) => needsSync(i, stored.get(i.number), def.status)).map((i) => i.number);
            await syncEntities(input, def.kind, stale, counts);
            const more = page !== undefined && (page.nextSkipPages !== undefined || page.nextProjectCursor !== undefined);
            commit({
              ...cursor,
              maxLastUpdated,
              skipPages: page?.nextSkipPages,
              projectCursor: page?.nextProjectCursor,
              ...(more ? {} : { phase: 'orphans' as const, afterNumber: 0 }),
            });
            if (!more) break;
          }
        }
        if (bothWays) {
          for (;;) {
            const numbers = await orphanBatch(input, cursor.afterNumber ?? 0);
            if (numbers.length === 0) break;
            counts.checked += numbers.length;
            await syncEntities(input, def.kind, numbers, counts);
            commit({ ...cursor, afterNumber: numbers[numbers.length - 1] });
          }
        }
        await finishScope(input, committed);
        return { done: true, cursor: committed };
      } finally {
        clearInterval(ticker);
      }
    },

    /** Records the run on the tenant's row (read by `auto` runs and by `status`). */
    async finishReconcile(input: { tenantId: number; summary: ReconcileSummary }): Promise<void> {
      const now = new Date();
      const full = input.summary.full && !input.summary.budgetExhausted;
      await db
        .insert(reconcileState)
        .values({ tenantId: input.tenantId, scope: TENANT_SCOPE, lastRunAt: now, lastFullRunAt: full ? now : null, lastSummary: input.summary })
        .onConflictDoUpdate({
          target: [reconcileState.tenantId, reconcileState.scope],
          set: { lastRunAt: now, lastFullRunAt: full ? now : sql`${reconcileState.lastFullRunAt}`, lastSummary: input.summary },
        });
    },
  };
}
