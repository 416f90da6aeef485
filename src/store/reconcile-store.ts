// Reconciliation's own bookkeeping (docs/database.md): per tenant and scope, the watermark and the last
// runs in `reconcile_state` (the tenant's row under scope `*`), and the numbers a run saw in e-conomic in
// `reconcile_seen`, which the entity store anti-joins to find rows e-conomic no longer lists. A running
// run's progress sits on the tenant's row too (`progress`), for `status` and the `reconcile` command, and
// so does the claim that lets one run at a time reconcile a tenant (`active_run`, `active_until`).
import { and, eq, lt, sql } from 'drizzle-orm';
import { queryRows, type Database } from '../db/client';
import { reconcileSeen, reconcileState } from '../db/schema';
import { TENANT_SCOPE, type ReconcileLiveProgress } from '../shared/reconcile';

export interface ScopeState {
  watermark: Date | null;
  numberWatermark: number | null;
  lastRunAt: Date | null;
  lastFullRunAt: Date | null;
  /** The tenant's row: where a budget-cut run stopped (ReconcileResume), or null. */
  resume: unknown;
}

/** One row of `reconcile_state` with its tenant's name, as `status` prints it. */
export interface ReconcileStateRow {
  tenant: string;
  scope: string;
  watermark: Date | null;
  lastRunAt: Date | null;
  lastFullRunAt: Date | null;
  lastSummary: Record<string, unknown> | null;
  /** The tenant's row: set while a budget-cut run waits to be resumed. */
  resume: unknown;
  /** The tenant's row: the running reconciliation's progress, if any. */
  progress: ReconcileLiveProgress | null;
}

const instant = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

/**
 * How long a run holds its tenant without renewing: it renews with every progress record (every few seconds
 * while it lists) and waits for its entities at most `entityTimeoutMs` (10 minutes by default) between two,
 * so only a run that stopped without ending (terminated) keeps its tenant this long.
 */
export const RECONCILE_CLAIM_MS = 30 * 60_000;

const claimExpiry = sql`now() + ${RECONCILE_CLAIM_MS}::bigint * interval '1 millisecond'`;

/** A run's claim on its tenant: taken, or held by another run (its workflow id) until `until`. */
export type RunClaim = { claimed: true } | { claimed: false; holder: string; until: Date | null };

export function createReconcileStore(db: Database) {
  /**
   * Upserts a scope's row; the watermarks only move forward, the last full run only with a full run.
   * `resume` (the tenant's row) is replaced when given: null clears it.
   */
  async function recordRun(
    tenantId: number,
    scope: string,
    run: { full: boolean; watermark?: Date | null; numberWatermark?: number | null; summary: unknown; resume?: unknown },
  ): Promise<void> {
    const now = new Date();
    await db
      .insert(reconcileState)
      .values({
        tenantId,
        scope,
        watermark: run.watermark ?? null,
        numberWatermark: run.numberWatermark ?? null,
        lastRunAt: now,
        lastFullRunAt: run.full ? now : null,
        lastSummary: run.summary,
        resume: run.resume ?? null,
      })
      .onConflictDoUpdate({
        target: [reconcileState.tenantId, reconcileState.scope],
        set: {
          watermark: sql`greatest(${reconcileState.watermark}, excluded.watermark)`,
          numberWatermark: sql`greatest(${reconcileState.numberWatermark}, excluded.number_watermark)`,
          lastRunAt: now,
          lastFullRunAt: run.full ? now : sql`${reconcileState.lastFullRunAt}`,
          // A scope's `fullTotal` (its last full listing's size, for the run estimate: src/shared/run-estimate.ts)
          // outlives the incremental runs in between, which do not list the whole scope.
          lastSummary: sql`case when ${reconcileState.lastSummary} ? 'fullTotal' and not (excluded.last_summary ? 'fullTotal')
                                 then excluded.last_summary || jsonb_build_object('fullTotal', ${reconcileState.lastSummary} -> 'fullTotal')
                                 else excluded.last_summary end`,
          ...(run.resume === undefined ? {} : { resume: sql`excluded.resume` }),
        },
      });
  }

  return {
    /** The scope's (or, with TENANT_SCOPE, the tenant's) last runs and watermark; undefined before the first. */
    async scopeState(tenantId: number, scope: string): Promise<ScopeState | undefined> {
      const [row] = await db
        .select({
          watermark: reconcileState.watermark,
          numberWatermark: reconcileState.numberWatermark,
          lastRunAt: reconcileState.lastRunAt,
          lastFullRunAt: reconcileState.lastFullRunAt,
          resume: reconcileState.resume,
        })
        .from(reconcileState)
        .where(and(eq(reconcileState.tenantId, tenantId), eq(reconcileState.scope, scope)));
      return row;
    },

    /** Remembers numbers the run's listing of the scope showed (idempotent: a resumed page writes them again). */
    async recordSeen(tenantId: number, runId: string, scope: string, numbers: number[]): Promise<void> {
      if (numbers.length === 0) return;
      await db
        .insert(reconcileSeen)
        .values(numbers.map((number) => ({ tenantId, runId, scope, number })))
        .onConflictDoNothing();
    },

    /** A scope is done: its watermark and summary recorded, the run's seen numbers for it cleared. */
    async finishScope(tenantId: number, runId: string, scope: string, run: { full: boolean; watermark: Date | null; numberWatermark?: number | null; summary: unknown }): Promise<void> {
      await recordRun(tenantId, scope, run);
      await db.delete(reconcileSeen).where(and(eq(reconcileSeen.tenantId, tenantId), eq(reconcileSeen.runId, runId), eq(reconcileSeen.scope, scope)));
    },

    /**
     * The run is done: recorded on the tenant's row (read by `auto` runs and by `status`), its progress cleared.
     * `resume`: where a budget-cut run stopped, null to clear it, undefined to leave it as it is.
     */
    async finishRun(tenantId: number, run: { full: boolean; summary: unknown; resume?: unknown; workflowId?: string }): Promise<void> {
      await recordRun(tenantId, TENANT_SCOPE, run);
      // Its claim on the tenant is released, both columns (SET reads the row as it was); a claim another run
      // took after this one's lapsed is kept.
      const ours = sql`${reconcileState.activeRun} = ${run.workflowId ?? null}`;
      const released =
        run.workflowId === undefined
          ? {}
          : { activeRun: sql`case when ${ours} then null else ${reconcileState.activeRun} end`, activeUntil: sql`case when ${ours} then null else ${reconcileState.activeUntil} end` };
      await db
        .update(reconcileState)
        .set({ progress: null, ...released })
        .where(and(eq(reconcileState.tenantId, tenantId), eq(reconcileState.scope, TENANT_SCOPE)));
    },

    /**
     * Claims the tenant for the run `workflowId`: taken when no run holds it, its holder's claim lapsed, or
     * the run holds it already (a retried claim); else the run that holds it. One conditional write, so of
     * two runs beginning at once exactly one gets it.
     */
    async claimRun(tenantId: number, workflowId: string): Promise<RunClaim> {
      for (let attempt = 0; ; attempt += 1) {
        const taken = await db
          .insert(reconcileState)
          .values({ tenantId, scope: TENANT_SCOPE, activeRun: workflowId, activeUntil: claimExpiry })
          .onConflictDoUpdate({
            target: [reconcileState.tenantId, reconcileState.scope],
            set: { activeRun: workflowId, activeUntil: claimExpiry },
            setWhere: sql`${reconcileState.activeRun} is null or ${reconcileState.activeUntil} < now() or ${reconcileState.activeRun} = ${workflowId}`,
          })
          .returning({ activeRun: reconcileState.activeRun });
        if (taken.length > 0) return { claimed: true };
        const [held] = await db
          .select({ activeRun: reconcileState.activeRun, activeUntil: reconcileState.activeUntil })
          .from(reconcileState)
          .where(and(eq(reconcileState.tenantId, tenantId), eq(reconcileState.scope, TENANT_SCOPE)));
        // Released between the two statements: claim again (once; a run ends in minutes, not milliseconds).
        if (held?.activeRun || attempt > 0) return { claimed: false, holder: held?.activeRun ?? 'another run', until: held?.activeUntil ?? null };
      }
    },

    /**
     * The running reconciliation's progress on the tenant's row (ReconcileLiveProgress); its other columns
     * stay, but for the run's claim on the tenant, which the same write renews.
     */
    async recordProgress(tenantId: number, progress: ReconcileLiveProgress): Promise<void> {
      await db
        .insert(reconcileState)
        .values({ tenantId, scope: TENANT_SCOPE, progress })
        .onConflictDoUpdate({
          target: [reconcileState.tenantId, reconcileState.scope],
          set: { progress, activeUntil: sql`case when ${reconcileState.activeRun} is null then null else ${claimExpiry} end` },
        });
    },

    /** The tenant's running reconciliation's progress, if one recorded any. */
    async progress(tenantId: number): Promise<ReconcileLiveProgress | undefined> {
      const [row] = await db
        .select({ progress: reconcileState.progress })
        .from(reconcileState)
        .where(and(eq(reconcileState.tenantId, tenantId), eq(reconcileState.scope, TENANT_SCOPE)));
      return (row?.progress as ReconcileLiveProgress | null | undefined) ?? undefined;
    },

    /** Drops seen numbers of runs that crashed for good. */
    async pruneSeen(tenantId: number, olderThan: Date): Promise<void> {
      await db.delete(reconcileSeen).where(and(eq(reconcileSeen.tenantId, tenantId), lt(reconcileSeen.seenAt, olderThan)));
    },

    /** Every scope row with its tenant, the tenant's own row first. */
    async stateRows(tenant?: string): Promise<ReconcileStateRow[]> {
      const rows = await queryRows<{
        tenant: string;
        scope: string;
        watermark: Date | string | null;
        last_run_at: Date | string | null;
        last_full_run_at: Date | string | null;
        last_summary: Record<string, unknown> | null;
        resume: unknown;
        progress: ReconcileLiveProgress | null;
      }>(
        db,
        sql`select t.name as tenant, r.scope, r.watermark, r.last_run_at, r.last_full_run_at, r.last_summary, r.resume, r.progress
              from tenants t
              join reconcile_state r on r.tenant_id = t.id
             where ${tenant === undefined ? sql`true` : sql`t.name = ${tenant}`}
             order by t.name, (r.scope <> ${TENANT_SCOPE}), r.scope`,
      );
      return rows.map((r) => ({
        tenant: r.tenant,
        scope: r.scope,
        watermark: instant(r.watermark),
        lastRunAt: instant(r.last_run_at),
        lastFullRunAt: instant(r.last_full_run_at),
        lastSummary: r.last_summary,
        resume: r.resume,
        progress: r.progress,
      }));
    },
  };
}

export type ReconcileStore = ReturnType<typeof createReconcileStore>;
