// The version rule of docs/database.md, written once: whether what a sync saw of an entity may replace
// what the store holds. Every write path of the entity store asks it (a commit, a deletion, the old row
// of a renumbering), under the entity's lock, so two syncs of one entity can commit in any order and the
// newer observation stays.
//
// An observation is either a version of the entity (with e-conomic's `lastUpdated`, where the resource
// has one) or "e-conomic no longer has it"; each carries when its fetch started. The stored row carries
// the same of the observation it holds: `last_updated`, `synced_at` (that fetch's start) and `deleted_at`.
//
//   1. Nothing stored: the observation is written.
//   2. The row is deleted: a deletion changes nothing (the first one stands); a version brings the row
//      back only when it was fetched after the deletion was seen. A fetch that started before the
//      deletion (a dependency fetched by another entity's sync, committed late) never resurrects it.
//   3. Both are versions with a `lastUpdated` and the two differ: the newer `lastUpdated` wins.
//   4. Otherwise (equal `lastUpdated`, either side without one, or a deletion against a live row): the
//      later fetch wins; the same fetch committed again (a retried commit) is written again.

/** What a sync saw of an entity. */
export interface Observation {
  /** e-conomic's lastUpdated of the version seen; null where the resource has none, and for a deletion. */
  lastUpdated: Date | null;
  /** When the fetch that saw it started. */
  fetchedAt: Date;
  /** e-conomic no longer has the entity. */
  gone?: boolean;
}

/** What the store holds of an entity. */
export interface StoredVersion {
  lastUpdated: Date | null;
  /** When the fetch of the stored observation started. */
  syncedAt: Date;
  deletedAt: Date | null;
}

/** Whether the observation replaces the stored row (or creates it). */
export function supersedes(observed: Observation, stored: StoredVersion | undefined): boolean {
  if (!stored) return true;
  if (stored.deletedAt) return !observed.gone && observed.fetchedAt.getTime() > stored.deletedAt.getTime();
  const incoming = observed.gone ? null : observed.lastUpdated;
  if (incoming && stored.lastUpdated && incoming.getTime() !== stored.lastUpdated.getTime()) {
    return incoming.getTime() > stored.lastUpdated.getTime();
  }
  return observed.fetchedAt.getTime() >= stored.syncedAt.getTime();
}
