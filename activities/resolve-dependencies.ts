// Before a document (or project) is committed, the customer and project it references must be in
// Postgres (foreign keys enforce it) and not stale. Missing or stale ones are fetched here and handed
// back in commit order (a project's own customer before the project, customers and projects before the
// document), to be committed in the document's own transaction. When a commit found a reference gone
// after all (renumbered meanwhile), the sync resolves again with `refresh`: every dependency is fetched.
//
// A dependency whose kind e-conomic answers 403 for (a project of an agreement without the Project module,
// docs/webhook.md) cannot be fetched: when it is stored (read before the 403) the reference stands; when it
// is not, it is returned as `unreadable` and the document is committed without that reference column (the
// number stays in the document's `data`), since the foreign key admits no row we cannot have.
//
// Reconciliation's bulk lane (activities/bulk-sync.ts) resolves a whole page's documents with one
// `DependencyMemo`: each dependency is read from Postgres once and fetched from e-conomic at most once
// per page, so a customer referenced by a hundred orders costs one lookup, not a hundred.
//
// Entity syncs share the reads in flight in their worker process (`SharedReads`): documents of one
// customer often sync at the same moment (a burst of webhooks after an import), before any of them has
// committed that customer, and each would fetch it. A document's customer and project are read at once,
// not one after the other: with e-conomic answering in 100-200 ms, a sync's dependencies then cost one
// round trip, not two (docs/architecture.md, "How an entity is synced").
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../src/shared/failure-types';
import { storedKey, type EntityStore, type StoredEntity } from '../src/store/entity-store';
import { dependenciesOf, type DependencyRef, type EntityRecord } from '../src/sync/entity-record';
import type { EconomicSession } from './economic-access';
import { readEntity } from './fetch-entity';

/**
 * A stored dependency counts as fresh when it was synced after the document last changed, or within
 * this window: a burst of webhooks for one customer's documents then costs one customer fetch, not one
 * per document. Reconciliation and the dependency's own events keep it current beyond that.
 */
export const DEPENDENCY_FRESHNESS_MS = 5 * 60 * 1000;

export interface ResolvedDependencies {
  /** Dependencies fetched because they were missing or stale, in commit order. */
  records: EntityRecord[];
  /** References e-conomic itself cannot resolve (no such customer or project, and none stored). */
  missing: DependencyRef[];
  /** References of a kind e-conomic forbids us (403) that are not stored: committed without the reference. */
  unreadable: DependencyRef[];
}

/** Shared by the resolutions of one page (the bulk lane): stored rows read and e-conomic reads, by `kind/number`. */
export interface DependencyMemo {
  stored: Map<string, Promise<StoredEntity | undefined>>;
  /** A read's result: the record, null when e-conomic has no such entity, 'forbidden' for a 403. */
  fetched: Map<string, Promise<EntityRecord | null | 'forbidden'>>;
}

export function dependencyMemo(): DependencyMemo {
  return { stored: new Map(), fetched: new Map() };
}

/** A dependency read's result: the record, null when e-conomic has no such entity, 'forbidden' for a 403. */
type DependencyRead = EntityRecord | null | 'forbidden';

/**
 * The dependency reads in flight in one worker process, by tenant and entity. A sync that needs a
 * dependency another sync is reading right now waits for that read instead of calling e-conomic again.
 * Only reads in flight are shared; a settled one is forgotten at once (the stored row and its freshness
 * rule take over). A shared read that failed is not shared further: the waiting sync reads for itself, so
 * a 401 or 403, a cancellation or a timeout is decided on its own session and signal.
 */
export interface SharedReads {
  read(tenantId: number, key: string, load: () => Promise<DependencyRead>): Promise<DependencyRead>;
}

export function sharedReads(): SharedReads {
  const inFlight = new Map<string, Promise<DependencyRead>>();
  return {
    async read(tenantId, key, load) {
      const slot = `${tenantId}/${key}`;
      const pending = inFlight.get(slot);
      if (pending) {
        let shared: DependencyRead;
        try {
          shared = await pending;
        } catch {
          return load();
        }
        // Each sync gets its own copy: a record is the sync's to change (dropUnreadable) and to commit.
        return shared === null || shared === 'forbidden' ? shared : structuredClone(shared);
      }
      const own = load();
      inFlight.set(slot, own);
      const forget = () => {
        if (inFlight.get(slot) === own) inFlight.delete(slot);
      };
      own.then(forget, forget);
      return own;
    },
  };
}

/** Commit order of dependencies: a project's own customer before the project. */
const COMMIT_RANK: Record<DependencyRef['kind'], number> = { customer: 0, project: 1 };

function remember<T>(map: Map<string, Promise<T>> | undefined, key: string, load: () => Promise<T>): Promise<T> {
  if (!map) return load();
  let value = map.get(key);
  if (!value) {
    value = load();
    map.set(key, value);
  }
  return value;
}

/** References of a kind e-conomic forbids us, not stored: the record is committed without that column. */
export function dropUnreadable(record: EntityRecord, unreadable: DependencyRef[]): void {
  for (const dep of unreadable) {
    if (dep.kind === 'project') record.projectNumber = null;
    else record.customerNumber = null;
  }
}

export async function resolveDependencies(
  session: EconomicSession,
  store: Pick<EntityStore, 'find' | 'findDependencies'>,
  tenantId: number,
  record: EntityRecord,
  options: { refresh?: boolean; memo?: DependencyMemo; shared?: SharedReads } = {},
): Promise<ResolvedDependencies> {
  const memo = options.refresh ? undefined : options.memo;
  const result: ResolvedDependencies = { records: [], missing: [], unreadable: [] };
  const referencedAt = record.lastUpdated ? new Date(record.lastUpdated).getTime() : 0;
  // A document's customer is often its project's customer too: look at each dependency once.
  const visited = new Set<string>();
  // The record's own references are read together (one statement for a document's customer and project);
  // the bulk lane reads them through its memo instead, once per page.
  const direct = dependenciesOf(record);
  const preread = memo ? new Map<string, StoredEntity | undefined>() : await store.findDependencies(tenantId, direct);

  const ensure = async (dep: DependencyRef, depth: number): Promise<void> => {
    const key = storedKey(dep.kind, dep.number);
    if (visited.has(key)) return;
    visited.add(key);
    const stored = preread.has(key) ? preread.get(key) : await remember(memo?.stored, key, () => store.find(tenantId, dep.kind, dep.number));
    const syncedAt = stored?.syncedAt.getTime() ?? 0;
    const read = memo?.fetched.get(key);
    // Fetched for another document of this page: as fresh as can be.
    if (stored && !read && !options.refresh && (syncedAt >= referencedAt || Date.now() - syncedAt < DEPENDENCY_FRESHNESS_MS)) return;
    if (!read && session.isForbidden(dep.kind)) {
      if (!stored) result.unreadable.push(dep);
      return;
    }
    const load = async (): Promise<DependencyRead> => {
      const fetchedAt = new Date().toISOString();
      try {
        return await session.run((client) => readEntity(client, store, tenantId, dep.kind, dep.number, fetchedAt), dep.kind);
      } catch (err) {
        if (!(err instanceof ApplicationFailure && err.type === FAILURE_TYPES.forbidden)) throw err;
        return 'forbidden' as const;
      }
    };
    // A refresh is a sync's own read: what a shared read returned is what did not hold.
    const shared = options.refresh ? undefined : options.shared;
    const fetched = await remember(memo?.fetched, key, () => (shared ? shared.read(tenantId, key, load) : load()));
    if (fetched === 'forbidden') {
      if (!stored) result.unreadable.push(dep);
      return;
    }
    if (!fetched) {
      // A stored (now deleted) row still satisfies the reference; only a never-seen one is missing.
      if (!stored) result.missing.push(dep);
      return;
    }
    if (depth < 2) {
      for (const inner of dependenciesOf(fetched)) await ensure(inner, depth + 1);
    }
    result.records.push(fetched);
  };

  // A document's customer and project are read at once; a project's own customer is read after its project.
  await Promise.all(direct.map((dep) => ensure(dep, 0)));
  // Reads finish in any order: commit a project's customer before the project.
  result.records.sort((a, b) => COMMIT_RANK[a.kind as DependencyRef['kind']] - COMMIT_RANK[b.kind as DependencyRef['kind']]);
  return result;
}
