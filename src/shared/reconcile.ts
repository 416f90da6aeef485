// Names and messages of scheduled reconciliation. Pure: imported by the reconcile workflow.
//
// A scope is one listing of e-conomic compared with Postgres: an entity kind, plus the state where
// e-conomic lists documents per state. Each scope keeps its own watermark in `reconcile_state`.

/** Scopes of an incremental run: what changed since the scope's watermark. */
export const INCREMENTAL_SCOPES = [
  'customer',
  'project',
  'order:drafts',
  'order:sent',
  'quote:drafts',
  'quote:sent',
  'draft-invoice',
  'booked-invoice:new',
  'booked-invoice:unpaid',
] as const;

/** Scopes of a full run: complete sets of numbers per kind and state, compared both ways. */
export const FULL_SCOPES = [
  'customer',
  'project',
  'order:drafts',
  'order:sent',
  'order:archived',
  'quote:drafts',
  'quote:sent',
  'quote:archived',
  'draft-invoice',
  'booked-invoice',
] as const;

/**
 * Archived documents have no lastUpdated: an incremental run lists them only when the scope was never
 * reconciled (the tenant's first run establishes the baseline); afterwards the daily full run covers them.
 */
export const FIRST_RUN_ONLY_SCOPES = ['order:archived', 'quote:archived'] as const;

export type ReconcileScope = (typeof INCREMENTAL_SCOPES)[number] | (typeof FULL_SCOPES)[number];

/** The `reconcile_state` scope that holds the tenant's run-level bookkeeping (last full run, summary). */
export const TENANT_SCOPE = '*';

export type ReconcileMode = 'auto' | 'incremental' | 'full';

export interface ReconcileOptions {
  /** Items per e-conomic page (max 1000, the default). */
  pageSize?: number;
  /** Pages one activity call lists before handing its cursor back to the workflow. Default 50. */
  pagesPerActivity?: number;
  /** Budget: listing calls one run may make (entity fetches are paced by the entity workflows). Default 2000. */
  maxListCallsPerRun?: number;
  /** Re-list this much before the watermark, for clock skew and late commits. Default 5 minutes. */
  overlapMs?: number;
  /** Concurrent signals (and awaited entity workflows). Default 16. */
  concurrency?: number;
  /** Wait for the signalled entity workflows to finish, so the summary reflects completed work. Default true. */
  waitForEntities?: boolean;
}

export interface ReconcileInput {
  tenantId: number;
  tenant: string;
  mode: ReconcileMode;
  /** `auto` runs full when the last full run is older than this (ms). Default 24 hours. */
  fullEveryMs?: number;
  options?: ReconcileOptions;
  /** Carried over by continue-as-new. */
  progress?: ReconcileProgress;
}

export interface ScopeCounts {
  /** Entities compared (listed in e-conomic, plus rows only Postgres has). */
  checked: number;
  /** Entity workflows signalled. */
  signalled: number;
  /** Of those awaited: synced, marked deleted, failed. */
  synced: number;
  deleted: number;
  failed: number;
  /** e-conomic listing calls. */
  calls: number;
  /** Most items held at once (one page at most). */
  peakItemsInMemory: number;
}

export interface ScopeCursor {
  runId: string;
  scope: ReconcileScope;
  phase: 'list' | 'orphans';
  /** Fixed when the scope starts, so a resumed listing pages through the same filter. */
  filter?: string;
  skipPages?: number;
  projectCursor?: string;
  /** Orphan phase: rows above this number are still to be checked. */
  afterNumber?: number;
  /** Greatest lastUpdated listed so far: the scope's next watermark. */
  maxLastUpdated?: string;
  counts: ScopeCounts;
}

export interface ReconcileProgress {
  runId: string;
  full: boolean;
  scopes: ReconcileScope[];
  scopeIndex: number;
  cursor?: ScopeCursor;
  listCalls: number;
  perScope: Partial<Record<ReconcileScope, ScopeCounts>>;
}

export interface ReconcileSummary {
  tenant: string;
  runId: string;
  full: boolean;
  checked: number;
  signalled: number;
  synced: number;
  deleted: number;
  failed: number;
  listCalls: number;
  /** Set when the run stopped at its call budget; unfinished scopes keep their watermark. */
  budgetExhausted: boolean;
  scopes: Partial<Record<ReconcileScope, ScopeCounts>>;
}

export function emptyCounts(): ScopeCounts {
  return { checked: 0, signalled: 0, synced: 0, deleted: 0, failed: 0, calls: 0, peakItemsInMemory: 0 };
}

/** `reconcile:<runId>:<kind>:<number>`: one event per entity and run, so a run's duplicates coalesce. */
export function reconcileEventId(runId: string, kind: string, number: number): string {
  return `reconcile:${runId}:${kind}:${number}`;
}

export const RECONCILE_WORKFLOW_TYPE = 'reconcileWorkflow';
