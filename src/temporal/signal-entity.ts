// The one path by which a change reaches an entity's workflow, for webhooks, the inbox relay,
// reconciliation and `retry-failed` alike: signal-with-start `economic/<tenant>/<kind>/<number>` by the
// workflow's type name, so events for one entity coalesce in one workflow instead of racing, and this
// client side never loads workflow code (only its types). Carries no secret: the workflow gets the
// tenant's id only. Search attributes (docs/temporal.md) are set when the signal starts a run:
// `EconomicSource` is the source of the entity's kind, `EconomicTrigger` the event that started the run.
import type { Client } from '@temporalio/client';
import { entityWorkflowId, KIND_SOURCE, type EntityKind } from '../shared/entities';
import { EconomicNumber, EconomicSource, EconomicTenant, EconomicTrigger } from '../shared/search-attributes';
import { CHANGE_SIGNAL, ENTITY_SYNC_WORKFLOW_TYPE, type ChangeEvent, type EntityChange } from '../shared/sync-signals';
import type { entitySyncWorkflow } from '../../workflows/entity-sync';

export async function signalEntityChange(client: Client, taskQueue: string, change: EntityChange): Promise<void> {
  await client.workflow.signalWithStart<typeof entitySyncWorkflow, [ChangeEvent]>(ENTITY_SYNC_WORKFLOW_TYPE, {
    workflowId: change.workflowId,
    taskQueue,
    args: [{ tenantId: change.tenantId, tenant: change.tenant, kind: change.kind, number: change.number }],
    signal: CHANGE_SIGNAL,
    signalArgs: [change.event],
    typedSearchAttributes: [
      { key: EconomicTenant, value: change.tenant },
      { key: EconomicSource, value: KIND_SOURCE[change.kind] },
      { key: EconomicNumber, value: change.number },
      { key: EconomicTrigger, value: change.event.source },
    ],
  });
}

/**
 * The numbers of a tenant's entities of one kind whose entity workflow is running: one visibility query
 * on the search attributes of docs/temporal.md (the tenant name is of TENANT_NAME_PATTERN's alphabet, so
 * it needs no escaping). Reconciliation's bulk lane leaves those entities to their workflows.
 */
export async function runningEntityWorkflows(client: Client, tenant: string, kind: EntityKind): Promise<Set<number>> {
  const query = `WorkflowType = '${ENTITY_SYNC_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND EconomicTenant = '${tenant}' AND EconomicSource = '${KIND_SOURCE[kind]}'`;
  const numbers = new Set<number>();
  const prefix = entityWorkflowId(tenant, kind, 0).slice(0, -1);
  for await (const execution of client.workflow.list({ query })) {
    // The id names the kind exactly (customers and another source could share nothing, but be sure).
    if (!execution.workflowId.startsWith(prefix)) continue;
    const number = Number(execution.workflowId.slice(prefix.length));
    if (Number.isInteger(number)) numbers.add(number);
  }
  return numbers;
}

/**
 * The entity workflows as reconciliation's activities see them (the EntityWorkflows port of
 * activities/reconcile.ts), built on a client by the composition root.
 */
export function entityWorkflowsOn(client: Client, taskQueue: string) {
  return {
    notify: (change: EntityChange): Promise<void> => signalEntityChange(client, taskQueue, change),
    running: (tenant: string, kind: EntityKind): Promise<Set<number>> => runningEntityWorkflows(client, tenant, kind),
  };
}
