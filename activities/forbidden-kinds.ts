// Reconciliation skips an entity kind e-conomic answers 403 for (docs/webhook.md, "The grant and the
// agreement"): a scope of a forbidden kind lists nothing and signals nothing (so it never reads "gone" into
// a 403 and marks nothing deleted), and the first 403 a listing meets ends that scope as skipped instead of
// failing the run. When the kind's re-check is due the scope is listed again; a listing that then succeeds
// makes the kind readable again (and re-syncs documents committed without their project). Wraps reconcileScope from outside, so the reconciliation itself knows
// nothing of 403s.
import { ApplicationFailure } from '@temporalio/common';
import { kindAccess } from '../src/access/grants';
import type { Database } from '../src/db/client';
import { isEntityKind } from '../src/shared/entities';
import { FAILURE_TYPES } from '../src/shared/failure-types';
import { emptyCounts } from '../src/shared/reconcile';
import type { EconomicAccess } from './economic-access';
import type { ReconcileScopeInput, ReconcileScopeResult } from './reconcile';

/** `order:drafts` → `order`. */
export function kindOfScope(scope: string): string {
  return scope.split(':')[0] ?? scope;
}

type ReconcileScope = (input: ReconcileScopeInput) => Promise<ReconcileScopeResult>;

export function skippingForbiddenKinds<T extends { reconcileScope: ReconcileScope }>(db: Database, access: Pick<EconomicAccess, 'kindReadable'>, activities: T): T {
  const inner = activities.reconcileScope;
  const skipped = (input: ReconcileScopeInput): ReconcileScopeResult => ({
    done: true,
    cursor: { runId: input.runId, scope: input.scope, phase: 'list', skipPages: 0, counts: input.cursor?.counts ?? emptyCounts() },
    signalled: [],
    deletionCandidates: input.deletionCandidates ?? 0,
  });
  return {
    ...activities,
    async reconcileScope(input: ReconcileScopeInput): Promise<ReconcileScopeResult> {
      const kind = kindOfScope(input.scope);
      const row = (await kindAccess(db, input.tenantId, kind)).get(kind);
      if (row && !row.due) return skipped(input);
      try {
        const result = await inner(input);
        // Readable again: documents committed without their project (if it is projects) sync again.
        if (row && result.done && isEntityKind(kind)) await access.kindReadable(input, kind);
        return result;
      } catch (err) {
        // The session recorded the 403 on the kind (activities/economic-access.ts).
        if (err instanceof ApplicationFailure && err.type === FAILURE_TYPES.forbidden) return skipped(input);
        throw err;
      }
    },
  };
}
