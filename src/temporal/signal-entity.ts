// The one path by which a change reaches an entity's workflow, for webhooks and reconciliation alike:
// signal-with-start `economic/<tenant>/<kind>/<number>`, so events for one entity coalesce in one
// workflow instead of racing. Carries no secret: the workflow gets the tenant's id only.
import type { Client } from '@temporalio/client';
import { entityWorkflowId, type EntityKind } from '../shared/entities';
import { EconomicNumber, EconomicSource, EconomicTenant } from '../shared/search-attributes';
import type { ChangeEvent } from '../shared/sync-signals';
import { changeSignal, entitySyncWorkflow } from '../../workflows/entity-sync';

export interface EntityChange {
  tenantId: number;
  tenant: string;
  kind: EntityKind;
  number: number;
  event: ChangeEvent;
}

export async function signalEntityChange(client: Client, taskQueue: string, change: EntityChange): Promise<string> {
  const workflowId = entityWorkflowId(change.tenant, change.kind, change.number);
  await client.workflow.signalWithStart(entitySyncWorkflow, {
    workflowId,
    taskQueue,
    args: [{ tenantId: change.tenantId, tenant: change.tenant, kind: change.kind, number: change.number }],
    signal: changeSignal,
    signalArgs: [change.event],
    typedSearchAttributes: [
      { key: EconomicTenant, value: change.tenant },
      { key: EconomicSource, value: change.event.source },
      { key: EconomicNumber, value: change.number },
    ],
  });
  return workflowId;
}
