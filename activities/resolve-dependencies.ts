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
  options: { refresh?: boolean; memo?: DependencyMemo } = {},
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
    const fetched = await remember(memo?.fetched, key, async () => {
      const fetchedAt = new Date().toISOString();
      try {
        return await session.run((client) => readEntity(client, store, tenantId, dep.kind, dep.number, fetchedAt), dep.kind);
      } catch (err) {
        if (!(err instanceof ApplicationFailure && err.type === FAILURE_TYPES.forbidden)) throw err;
        return 'forbidden' as const;
      }
    });
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

  for (const dep of direct) await ensure(dep, 0);
  return result;
}
