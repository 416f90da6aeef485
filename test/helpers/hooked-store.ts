// A test-only wrapper over the real entity store, given to the worker as ActivityDeps.entityStore: a test
// runs its own code at chosen points of a sync (before a commit, before a failure is recorded), e.g. to
// renumber a project in the fake e-conomic between an order's fetch and its commit. Every call still goes
// to the real store on the real database; the hooks only decide when.
import type { CommitOptions, EntityStore, SyncOutcomeRecord } from '../../src/store/entity-store';
import type { EntityRecord } from '../../src/sync/entity-record';

export interface StoreHooks {
  beforeCommit?: (tenantId: number, records: EntityRecord[], options: CommitOptions) => Promise<void> | void;
  beforeRecordOutcome?: (input: SyncOutcomeRecord) => Promise<void> | void;
}

export function hookedStore(real: EntityStore): { store: EntityStore; hooks: StoreHooks } {
  const hooks: StoreHooks = {};
  const store: EntityStore = {
    ...real,
    async commit(tenantId, records, options = {}) {
      await hooks.beforeCommit?.(tenantId, records, options);
      return real.commit(tenantId, records, options);
    },
    async recordOutcome(input) {
      await hooks.beforeRecordOutcome?.(input);
      return real.recordOutcome(input);
    },
  };
  return { store, hooks };
}

/** A point a sync waits at until the test lets it go: `reached` resolves when it arrives. */
export interface Checkpoint {
  reached: Promise<void>;
  /** Called by the hook: announces arrival, then waits for release. */
  arrive(): Promise<void>;
  release(): void;
}

export function checkpoint(): Checkpoint {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    reached,
    arrive() {
      arrived();
      return released;
    },
    release,
  };
}
