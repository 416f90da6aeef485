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

/**
 * Scopes of a full run: complete sets of numbers per kind and state, compared both ways. Open documents
 * first (drafts and sent orders and quotes, draft invoices, unpaid booked invoices), history after
 * (archived documents, all booked invoices): an onboarding spread over days by the daily call budget
 * has what is being worked on first. Customers and projects lead, and are resolved as dependencies anyway.
 */
export const FULL_SCOPES = [
  'customer',
  'project',
  'order:drafts',
  'order:sent',
  'quote:drafts',
  'quote:sent',
  'draft-invoice',
  'booked-invoice:unpaid',
  'order:archived',
  'quote:archived',
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
  /** Concurrent signals, and concurrent entity fetches of the bulk lane, of one activity. Default 20. */
  concurrency?: number;
  /**
   * The bulk lane (docs/architecture.md): new and stale entities that need no entity workflow are fetched
   * and committed by the reconciliation activity itself, many per transaction. Default true; false hands
   * every entity to its entity workflow.
   */
  bulk?: boolean;
  /** Wait for the signalled entity workflows to finish, so the summary reflects completed work. Default true. */
  waitForEntities?: boolean;
  /**
   * Bounded fan-out: entity workflows a run has signalled and not yet heard back from, at most. The
   * listing pauses (in the workflow, holding no worker slot) until fewer are outstanding. Default 200.
   */
  maxOutstanding?: number;
  /** An entity that has not reported back this long after its signal is reported stuck and no longer awaited. Default 10 minutes. */
  entityTimeoutMs?: number;
  /** Deletion guard: a full run stops before marking more than this share of the tenant's rows deleted. Default 0.2. */
  maxDeleteShare?: number;
  /** The operator's `--allow-mass-delete`: this run passes the deletion guard. */
  allowMassDelete?: boolean;
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
  /** Entities the bulk lane committed itself (no entity workflow): synced, counted in the summary's `synced`. */
  bulk?: number;
  /** Of those awaited: synced, marked deleted, failed. */
  synced: number;
  deleted: number;
  failed: number;
  /** e-conomic listing calls. */
  calls: number;
  /** Most items held at once (two pages at most: the one being synced and the next, listed meanwhile). */
  peakItemsInMemory: number;
  /** Signalled entities that did not report back within the entity timeout. */
  stuck?: number;
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
  /** Greatest lastUpdated listed so far (reported; the watermark is the scan's start, `scanStartedAt`). */
  maxLastUpdated?: string;
  /**
   * ISO instant the scope's scan began: its next watermark. Everything changed before it was listed (or
   * is caught by the overlap the next run re-lists); a change made on a page already compared is later.
   */
  scanStartedAt?: string;
  /** Greatest number listed so far (booked invoices: the scope's next number watermark). */
  maxNumber?: number;
  /** e-conomic's count for this listing (`pagination.results` of its first page), for progress. */
  total?: number;
  /** Orphan phase of a full run: the rows it would mark deleted, counted once before the first is signalled. */
  candidates?: number;
  counts: ScopeCounts;
}

/** Why a full run did not mark a scope's missing rows deleted (shown by `status`). */
export interface DeletionGuardStop {
  scope: ReconcileScope;
  /** Rows this run would have marked deleted so far, this scope's included. */
  candidates: number;
  /** The tenant's live rows. */
  rows: number;
  maxShare: number;
}

/** An entity a run signalled that did not report back in time. */
export interface StuckEntity {
  scope: ReconcileScope;
  kind: string;
  number: number;
}

/** A scope whose listing failed for good: nothing was deleted for it. */
export interface ScopeError {
  scope: ReconcileScope;
  type: string;
  message: string;
}

/** Where a run cut short by its call budget stopped; the next run of the same mode resumes there. */
export interface ReconcileResume {
  runId: string;
  full: boolean;
  scopes: ReconcileScope[];
  scopeIndex: number;
  cursor?: ScopeCursor;
  deletionCandidates: number;
}

/**
 * A running reconciliation's progress, on the tenant's `reconcile_state` row (`status`, the `reconcile`
 * command) and from the workflow's `progress` query. `total` is e-conomic's count for the scope's listing
 * (`pagination.results`, docs/economic-api.md), when it gives one.
 */
export interface ReconcileLiveProgress {
  runId: string;
  full: boolean;
  scope: ReconcileScope;
  /** 0-based position of the scope in the run, and the run's number of scopes. */
  scopeIndex: number;
  scopeCount: number;
  /** Entities compared in the run's earlier scopes. */
  checkedBefore: number;
  /** This scope: entities compared, of `total`; committed in bulk; handed to entity workflows. */
  checked: number;
  total?: number;
  bulk: number;
  signalled: number;
  /** Entities compared per second in this scope, and the seconds left for it at that rate. */
  ratePerSecond: number;
  etaSeconds?: number;
  updatedAt: string;
}

/** The reconcile workflow's query: its progress as it knows it (counts as of its last activity). */
export const RECONCILE_PROGRESS_QUERY = 'progress';

/** Where a run stands, as the workflow's query answers. */
export interface ReconcileQueryAnswer {
  scopes: ReconcileScope[];
  scopeIndex: number;
  perScope: Partial<Record<ReconcileScope, ScopeCounts>>;
  listCalls: number;
  /** Entities signalled and not yet reported back. */
  outstanding: number;
}

/** One line for an operator: where a run is and when it should end. */
export function formatLiveProgress(p: ReconcileLiveProgress): string {
  const of = p.total !== undefined ? `/${p.total}` : '';
  const eta = p.etaSeconds !== undefined ? `, about ${formatSeconds(p.etaSeconds)} left in this scope` : '';
  return (
    `scope ${p.scopeIndex + 1}/${p.scopeCount} ${p.scope}: ${p.checked}${of} compared, ${p.bulk} synced in bulk, ${p.signalled} to entity workflows` +
    ` (${p.checkedBefore} in earlier scopes; ${p.ratePerSecond.toFixed(1)}/s${eta})`
  );
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** The signal an entity workflow sends back to the reconciliation that signalled it (docs/temporal.md). */
export const ENTITY_DONE_SIGNAL = 'entityDone';

export interface EntityDone {
  eventId: string;
  /** The sync's outcome (`synced`, `stale`, `deleted`, `absent`) or `failed`. */
  outcome: string;
}

export interface ReconcileProgress {
  runId: string;
  full: boolean;
  scopes: ReconcileScope[];
  scopeIndex: number;
  cursor?: ScopeCursor;
  listCalls: number;
  perScope: Partial<Record<ReconcileScope, ScopeCounts>>;
  /** Rows the run's full scopes would mark deleted so far (the deletion guard's numerator). */
  deletionCandidates?: number;
  /** Set when the run began where a budget-cut run stopped. */
  resumed?: boolean;
  stuck?: StuckEntity[];
  guard?: DeletionGuardStop[];
  errors?: ScopeError[];
}

export interface ReconcileSummary {
  tenant: string;
  runId: string;
  full: boolean;
  checked: number;
  signalled: number;
  /** Entities synced: by their entity workflows (reported back) and by the bulk lane. */
  synced: number;
  /** Of `synced`: committed by the bulk lane, without an entity workflow. */
  bulk?: number;
  deleted: number;
  failed: number;
  listCalls: number;
  /** Set when the run stopped at its call budget; unfinished scopes keep their watermark. */
  budgetExhausted: boolean;
  /**
   * Set when it stopped because the agreement's daily e-conomic budget (shared with webhook syncs) fell
   * below reconciliation's share, rather than at the run's own `maxListCallsPerRun`.
   */
  dailyBudgetCut?: boolean;
  scopes: Partial<Record<ReconcileScope, ScopeCounts>>;
  /** Entities that did not report back within the entity timeout (the first few). */
  stuck?: StuckEntity[];
  /** Signalled entities that did not report back in time, in all. */
  stuckCount?: number;
  /** Scopes whose deletions the deletion guard stopped. */
  guard?: DeletionGuardStop[];
  /** Scopes whose listing failed (nothing deleted for them). */
  errors?: ScopeError[];
  /** The run began where a budget-cut run stopped. */
  resumed?: boolean;
  /** Set when another run held the tenant: this one did nothing (docs/temporal.md). */
  busy?: ReconcileBusy;
}

/** The run that held the tenant when another began. */
export interface ReconcileBusy {
  /** Its workflow id. */
  workflowId: string;
  /** When its claim lapses if it stops without ending (ISO). */
  until?: string;
}

export function emptyCounts(): ScopeCounts {
  return { checked: 0, signalled: 0, synced: 0, deleted: 0, failed: 0, calls: 0, peakItemsInMemory: 0 };
}

/**
 * `reconcile:<runId>:<kind>:<number>`: one event per entity and run execution, so a run's duplicates
 * coalesce, and the entity's report back is matched to exactly this signal (a late report to a later
 * run of the same workflow id matches nothing there).
 */
export function reconcileEventId(runId: string, kind: string, number: number): string {
  return `reconcile:${runId}:${kind}:${number}`;
}

export const RECONCILE_WORKFLOW_TYPE = 'reconcileWorkflow';
