// Records each entity's last sync outcome in `sync_state` (read by `status` and `retry-failed`).
import { sql } from 'drizzle-orm';
import type { Database } from '../src/db/client';
import { syncState } from '../src/db/schema';

export interface SyncOutcomeInput {
  tenantId: number;
  kind: string;
  number: number;
  workflowId: string;
  outcome: 'pending' | 'synced' | 'deleted' | 'failed';
  errorType?: string;
  error?: string;
  eventIds?: string[];
}

export function createSyncStateActivities(deps: { db: Database }) {
  return {
    async recordSyncOutcome(input: SyncOutcomeInput): Promise<void> {
      const now = new Date();
      const failed = input.outcome === 'failed';
      await deps.db
        .insert(syncState)
        .values({
          tenantId: input.tenantId,
          kind: input.kind,
          number: input.number,
          workflowId: input.workflowId,
          lastOutcome: input.outcome,
          lastErrorType: input.errorType ?? null,
          lastError: input.error ?? null,
          attempts: 1,
          lastAttemptAt: now,
          lastSuccessAt: failed ? null : now,
        })
        .onConflictDoUpdate({
          target: [syncState.tenantId, syncState.kind, syncState.number],
          set: {
            workflowId: input.workflowId,
            lastOutcome: input.outcome,
            lastErrorType: input.errorType ?? null,
            lastError: input.error ?? null,
            attempts: sql`${syncState.attempts} + 1`,
            lastAttemptAt: now,
            lastSuccessAt: failed ? sql`${syncState.lastSuccessAt}` : now,
          },
        });
    },
  };
}
