// Where the time of a sync goes in Temporal (docs/benchmarks.md): reads the histories of a sample of a
// tenant's entity workflows and counts, per sync, the workflow tasks, activity tasks and history events
// each one costs; and for a reconciliation, how many entity workflows it started per reconciled entity and
// how large its own history grew (every run of its continue-as-new chain). Read after the scenario ended,
// from the Temporal client only (visibility and history), so it measures without slowing the run.
import type { Client } from '@temporalio/client';
import { RECONCILE_WORKFLOW_TYPE } from '../../src/shared/reconcile';
import { ENTITY_SYNC_WORKFLOW_TYPE } from '../../src/shared/sync-signals';

export interface EntityHistoryCosts {
  /** Entity workflow executions of the tenant (each continue-as-new run counts). */
  executions: number;
  /** History events over every execution, from visibility. */
  totalEvents: number;
  /** Executions whose history was read. */
  sampled: number;
  /**
   * In the sample: syncs, counted as `syncEntity` attempts that started one (a local activity, or an
   * ordinary activity not taking over from a failed local attempt; workflows/activity-options.ts).
   */
  syncs: number;
  workflowTasks: number;
  /** Ordinary activity tasks scheduled. */
  activityTasks: number;
  /** Local activities run (recorded as markers): a sync's first attempt. */
  localActivities: number;
  signals: number;
  events: number;
  /**
   * In the sample: how long each workflow task waited from scheduled to started (ms), i.e. for a worker's
   * poll. A long wait with the worker idle is a polling problem (docs/benchmarks.md, "Workflow task polls").
   */
  taskWaitsMs: number[];
  /** Workflow tasks that failed; of them, completions Temporal refused because an event arrived meanwhile. */
  failedWorkflowTasks: number;
  refusedCompletions: number;
}

type HistoryEvent = {
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  workflowTaskScheduledEventAttributes?: unknown;
  workflowTaskStartedEventAttributes?: unknown;
  workflowTaskFailedEventAttributes?: { cause?: number | null } | null;
  markerRecordedEventAttributes?: { markerName?: string | null } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  workflowExecutionSignaledEventAttributes?: unknown;
};

/** The marker the SDK records a local activity's result in (an entity workflow runs only `syncEntity` locally). */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** WorkflowTaskFailedCause.UNHANDLED_COMMAND: a completion refused because new events arrived meanwhile. */
const UNHANDLED_COMMAND = 1;

function eventMs(event: HistoryEvent): number {
  return Number(event.eventTime?.seconds ?? 0) * 1000 + Number(event.eventTime?.nanos ?? 0) / 1e6;
}

function entityQuery(tenant: string): string {
  return `EconomicTenant = "${tenant}" AND WorkflowType = "${ENTITY_SYNC_WORKFLOW_TYPE}"`;
}

/** Per-sync costs of a tenant's entity workflows: every execution from visibility, `sample` histories read (spread evenly). */
export async function entityHistoryCosts(client: Client, tenant: string, sample: number): Promise<EntityHistoryCosts> {
  const all: { workflowId: string; runId: string }[] = [];
  let totalEvents = 0;
  for await (const info of client.workflow.list({ query: entityQuery(tenant) })) {
    all.push({ workflowId: info.workflowId, runId: info.runId });
    totalEvents += info.historyLength;
  }
  const step = Math.max(1, all.length / Math.max(1, sample));
  const picked: { workflowId: string; runId: string }[] = [];
  for (let i = 0; i < all.length && picked.length < sample; i += step) picked.push(all[Math.floor(i)]!);
  const costs: EntityHistoryCosts = {
    executions: all.length,
    totalEvents,
    sampled: picked.length,
    syncs: 0,
    workflowTasks: 0,
    activityTasks: 0,
    localActivities: 0,
    signals: 0,
    events: 0,
    taskWaitsMs: [],
    failedWorkflowTasks: 0,
    refusedCompletions: 0,
  };
  for (const { workflowId, runId } of picked) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    // A `syncEntity` activity right after a local attempt is that sync's retry, not another sync.
    let afterLocalAttempt = false;
    let scheduledAt: number | undefined;
    for (const event of (history.events ?? []) as HistoryEvent[]) {
      costs.events += 1;
      if (event.workflowTaskScheduledEventAttributes) {
        costs.workflowTasks += 1;
        scheduledAt = eventMs(event);
      }
      if (event.workflowTaskStartedEventAttributes && scheduledAt !== undefined) {
        costs.taskWaitsMs.push(eventMs(event) - scheduledAt);
        scheduledAt = undefined;
      }
      if (event.workflowTaskFailedEventAttributes) {
        costs.failedWorkflowTasks += 1;
        if (event.workflowTaskFailedEventAttributes.cause === UNHANDLED_COMMAND) costs.refusedCompletions += 1;
      }
      if (event.workflowExecutionSignaledEventAttributes) costs.signals += 1;
      if (event.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER) {
        costs.localActivities += 1;
        costs.syncs += 1;
        afterLocalAttempt = true;
        continue;
      }
      const activity = event.activityTaskScheduledEventAttributes;
      if (activity) {
        costs.activityTasks += 1;
        if (activity.activityType?.name === 'syncEntity' && !afterLocalAttempt) costs.syncs += 1;
        afterLocalAttempt = false;
      }
    }
  }
  return costs;
}

export interface ReconcileHistoryCosts {
  /** Entity workflow executions of the tenant (the reconciliation was its only source of events). */
  entityWorkflows: number;
  /** Runs of the reconcile workflow (continue-as-new) and their history events. */
  reconcileRuns: number;
  reconcileEvents: number;
}

export async function reconcileHistoryCosts(client: Client, tenant: string): Promise<ReconcileHistoryCosts> {
  const { count: entityWorkflows } = await client.workflow.count(entityQuery(tenant));
  let reconcileRuns = 0;
  let reconcileEvents = 0;
  for await (const info of client.workflow.list({ query: `EconomicTenant = "${tenant}" AND WorkflowType = "${RECONCILE_WORKFLOW_TYPE}"` })) {
    reconcileRuns += 1;
    reconcileEvents += info.historyLength;
  }
  return { entityWorkflows, reconcileRuns, reconcileEvents };
}

/** Waits until none of the tenant's workflows runs (visibility lags a close by moments). */
export async function noneRunning(client: Client, tenant: string): Promise<boolean> {
  const { count } = await client.workflow.count(`EconomicTenant = "${tenant}" AND ExecutionStatus = "Running"`);
  return count === 0;
}
