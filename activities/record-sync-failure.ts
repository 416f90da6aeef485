// recordSyncFailure: a sync that failed for good is recorded in `sync_state` (read by `status` and
// `retry-failed`), with the renumbering it did not apply, so the entity's next sync applies it instead of
// the old number ending as a deletion. Database-only, so the workflow retries it until Postgres answers.
// A successful sync's outcome is recorded by syncEntity itself, in its commit's transaction.
import { entityWorkflowId, type EntityKind } from '../src/shared/entities';
import type { EntityStore } from '../src/store/entity-store';

export interface SyncFailureInput {
  tenantId: number;
  tenant: string;
  kind: EntityKind;
  number: number;
  errorType: string;
  error: string;
  /** The failed sync's renumbering: the number the entity had before. */
  oldNumber?: number;
}

export function createRecordSyncFailureActivity(deps: { store: EntityStore }) {
  return {
    async recordSyncFailure(input: SyncFailureInput): Promise<void> {
      const { tenant, ...entity } = input;
      await deps.store.recordOutcome({ ...entity, workflowId: entityWorkflowId(tenant, input.kind, input.number), outcome: 'failed' });
    },
  };
}
