// Reconciliation's bulk lane (docs/architecture.md, "Reconciliation's bulk lane"): the entities of one
// listed page that are new or stale, and that need nothing an entity workflow gives (no sync of theirs
// running, no failed sync or pending renumbering in sync_state: activities/reconcile.ts sorts those out
// first), are fetched here with bounded concurrency, their customers and projects resolved once per page
// (a DependencyMemo shared by the page), and committed in batches of many entities per transaction
// through the same entity store and version rule as a sync (store.commitMany), each entity's outcome in
// `sync_state` under its entity workflow's id. That saves the ~12 history events and several Temporal
// round trips a workflow per entity costs, which dominated an onboarding. The booked invoices a page wrote
// re-check their customers' open drafts together, each draft fetched once for the page.
//
// Whatever needs more than a plain fetch and commit is handed back to go the entity workflow's way
// (activities/sync-entity.ts): a 404 since the listing (the workflow marks it deleted), a fetch that
// failed after the client's retries, a dependency e-conomic does not have, an integrity violation, a
// booked invoice whose draft re-check failed. Commits stream behind the fetches, 100 entities per
// transaction. A 429 or a spent call budget stops the page's fetches (the batches committed so far stay),
// so the attempt fails or hands back as reconciliation does without the bulk lane, and the page is listed
// again from the last heartbeat cursor, where what was committed compares equal and is not fetched again.
import { ApplicationFailure } from '@temporalio/common';
import type { DocumentState } from '../src/economic';
import { isIntegrityViolation } from '../src/db/errors';
import { eachLimited } from '../src/util/each-limited';
import { entityWorkflowId, type EntityKind } from '../src/shared/entities';
import { FAILURE_TYPES } from '../src/shared/failure-types';
import type { DraftInvoiceQuery, EntityStore } from '../src/store/entity-store';
import type { EntityRecord } from '../src/sync/entity-record';
import type { EconomicSession } from './economic-access';
import { readEntity } from './fetch-entity';
import { MAX_DRAFTS_RECHECKED, draftQueryOf, recheckDrafts } from './recheck-drafts';
import { dependencyMemo, dropUnreadable, resolveDependencies } from './resolve-dependencies';

/** Entities per commit transaction: large enough to amortise the commit, small enough to hold few locks long. */
export const BULK_COMMIT_BATCH = 100;
/** Entities per commit once the page's last fetches are in flight. */
const TAIL_BATCH = 10;

/** Failures that concern the entity alone: it goes the entity workflow's way. Anything else ends the page. */
const HANDED_OVER = new Set<string>([FAILURE_TYPES.transient, FAILURE_TYPES.forbidden, FAILURE_TYPES.badRequest]);

function handsOver(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.type !== undefined && err.type !== null && HANDED_OVER.has(err.type);
}

export interface BulkSyncInput {
  tenantId: number;
  tenant: string;
  kind: EntityKind;
  numbers: number[];
  /** Orders and quotes: the state the listing found them in (one call per fetch). */
  stateHint?: DocumentState;
  concurrency: number;
  batchSize?: number;
}

export interface BulkSyncResult {
  /** Entities committed here (written, or found as stored / older than stored: the version rule's `stale`). */
  committed: number;
  /** Entities that need their entity workflow after all. */
  handOver: number[];
  /** Dependencies fetched and committed with them (each once). */
  dependencies: number;
}

interface Fetched {
  number: number;
  records: EntityRecord[];
}

export async function bulkSync(session: EconomicSession, store: EntityStore, input: BulkSyncInput): Promise<BulkSyncResult> {
  const { tenantId, kind } = input;
  const handOver: number[] = [];
  if (input.numbers.length === 0) return { committed: 0, handOver, dependencies: 0 };
  // A kind e-conomic forbids us: its entity workflows skip it (outcome `skipped`), as they always did.
  if (session.isForbidden(kind)) return { committed: 0, handOver: [...input.numbers], dependencies: 0 };
  const memo = dependencyMemo();
  const order = new Map(input.numbers.map((n, i) => [n, i]));
  const batchSize = input.batchSize ?? BULK_COMMIT_BATCH;
  let committed = 0;
  const written: Array<{ number: number; record: EntityRecord }> = [];
  const dependencies = new Set<EntityRecord>();

  const commitBatch = async (batch: Fetched[]): Promise<void> => {
    // Listing order within the batch, so its lock set does not depend on which fetch finished first.
    batch.sort((a, b) => (order.get(a.number) ?? 0) - (order.get(b.number) ?? 0));
    const groups = batch.map((f) => ({ records: f.records, sync: { workflowId: entityWorkflowId(input.tenant, kind, f.number) } }));
    let outcomes: Array<Array<'written' | 'stale'> | undefined>;
    try {
      outcomes = await store.commitMany(tenantId, groups);
    } catch (err) {
      if (!isIntegrityViolation(err)) throw err;
      // One of them names something renumbered or gone meanwhile: commit one by one, hand over the ones that fail.
      outcomes = [];
      for (const group of groups) {
        try {
          outcomes.push(await store.commit(tenantId, group.records, { sync: group.sync }));
        } catch (inner) {
          if (!isIntegrityViolation(inner)) throw inner;
          outcomes.push(undefined);
        }
      }
    }
    for (const [j, f] of batch.entries()) {
      const result = outcomes[j];
      if (!result) {
        handOver.push(f.number);
        continue;
      }
      committed += 1;
      for (const dep of f.records.slice(0, -1)) dependencies.add(dep);
      if (kind === 'booked-invoice' && result.at(-1) === 'written') written.push({ number: f.number, record: f.records.at(-1) as EntityRecord });
    }
  };

  // Commits stream behind the fetches: a full batch is committed while the next ones are fetched, one
  // commit at a time, so the pool never idles for a commit and at most a batch or two of fetched entities
  // are held (not the whole page). A commit's failure stops the fetches; the chain itself never rejects.
  let pending: Fetched[] = [];
  let committing = Promise.resolve();
  let commitFailure: { err: unknown } | undefined;
  let stopped = false;
  // Fetches started: once all have, the page's last fetches are in flight (its tail).
  let started = 0;
  const enqueue = (batch: Fetched[]) => {
    committing = committing.then(async () => {
      if (commitFailure) return;
      try {
        await commitBatch(batch);
      } catch (err) {
        commitFailure = { err };
      }
    });
  };
  try {
    await eachLimited(input.numbers, input.concurrency, async (number) => {
      if (commitFailure) throw commitFailure.err;
      started += 1;
      const fetchedAt = new Date().toISOString();
      try {
        const record = await session.run((client) => readEntity(client, store, tenantId, kind, number, fetchedAt, input.stateHint), kind);
        // Gone since the listing: the entity workflow marks it deleted.
        if (!record) return void handOver.push(number);
        const resolved = await resolveDependencies(session, store, tenantId, record, { memo });
        // The entity may name a dependency under a number it has since left: the workflow re-fetches in rounds.
        if (resolved.missing.length > 0) return void handOver.push(number);
        dropUnreadable(record, resolved.unreadable);
        if (stopped) return;
        pending.push({ number, records: [...resolved.records, record] });
        // In the page's tail, smaller batches: what is left to commit after the last fetch (the next page
        // or scope waits for it) is a few entities, not a whole batch.
        const tail = started >= input.numbers.length;
        if (pending.length >= (tail ? Math.min(batchSize, TAIL_BATCH) : batchSize)) {
          enqueue(pending);
          pending = [];
        }
      } catch (err) {
        if (!handsOver(err)) throw err;
        handOver.push(number);
      }
    });
  } catch (err) {
    // A 429 or the spent budget (or a failed commit): no new commit starts; the one running ends before the
    // attempt does. What was committed stays: the page is listed again and finds it equal to e-conomic.
    stopped = true;
    await committing;
    throw err;
  }
  if (pending.length > 0) enqueue(pending);
  await committing;
  if (commitFailure) throw commitFailure.err;

  // Booked invoices re-check their customers' open drafts, as a sync would: once per page, not per invoice.
  const unchecked = await recheckPageDrafts(session, store, tenantId, written, input.concurrency);
  // Committed, but a draft they named could not be re-checked: their workflows sync them again and re-check.
  committed -= unchecked.length;
  handOver.push(...unchecked);
  return { committed, handOver, dependencies: dependencies.size };
}

/**
 * The draft re-checks of the booked invoices one page wrote (activities/recheck-drafts.ts): their candidate
 * drafts gathered in one query, each fetched once, at most `concurrency` at a time, the ones gone marked
 * deleted. Returns the booked invoices whose re-check did not happen (a draft they named failed to fetch).
 */
async function recheckPageDrafts(
  session: EconomicSession,
  store: Pick<EntityStore, 'openDraftInvoicesOf' | 'markDeleted'>,
  tenantId: number,
  written: ReadonlyArray<{ number: number; record: EntityRecord }>,
  concurrency: number,
): Promise<number[]> {
  if (written.length === 0) return [];
  // Invoices of one customer with one amount and currency share their candidates: one query each.
  const queries: DraftInvoiceQuery[] = [];
  const queryIndex = new Map<string, number>();
  const invoicesOf: number[][] = [];
  for (const w of written) {
    const query = draftQueryOf(w.record);
    if (!query) continue;
    const key = JSON.stringify([query.customerNumber, query.netAmount ?? null, query.currency ?? null]);
    let i = queryIndex.get(key);
    if (i === undefined) {
      i = queries.push(query) - 1;
      queryIndex.set(key, i);
      invoicesOf.push([]);
    }
    invoicesOf[i]?.push(w.number);
  }
  const candidates = await store.openDraftInvoicesOf(tenantId, queries, MAX_DRAFTS_RECHECKED);
  // Each draft once for the whole page, however many of the page's invoices name it. That is sound: every
  // invoice on the page was booked before the listing answered, and booking removes its draft, so a draft
  // fetched successfully after the listing was booked into none of them; a 404 is marked deleted as a sync would.
  const namedBy = new Map<number, number[]>();
  for (const [i, drafts] of candidates.entries()) {
    for (const draft of drafts) {
      const invoices = namedBy.get(draft) ?? [];
      invoices.push(...(invoicesOf[i] ?? []));
      namedBy.set(draft, invoices);
    }
  }
  const unchecked = new Set<number>();
  await recheckDrafts(session, store, tenantId, [...namedBy.keys()], {
    concurrency,
    failed: (draft, err) => {
      // Anything else (a 429, the spent budget) ends the page, as a failed entity fetch does.
      if (!handsOver(err)) return false;
      for (const invoice of namedBy.get(draft) ?? []) unchecked.add(invoice);
      return true;
    },
  });
  return written.map((w) => w.number).filter((n) => unchecked.has(n));
}
