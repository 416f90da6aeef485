// Starts the durable delivery workflow of change-feed subscribers (docs/change-feed.md): when one is
// added, and for every live subscriber when a worker starts (a subscriber added while Temporal was down,
// or a workflow that ended unexpectedly, gets its loop back). Starting is idempotent (USE_EXISTING).
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Database } from '../db/client';
import { CHANGE_DELIVERY_WORKFLOW_TYPE, changeDeliveryWorkflowId, type ChangeDeliveryInput } from '../shared/change-delivery';
import { createSubscriberStore } from '../store/change-subscribers';
import type { changeDeliveryWorkflow } from '../../workflows/change-delivery';

export type ChangeDeliveryConfig = Pick<Config, 'changesDeliveryMaxAttempts' | 'changesDeliveryMaxBackoff'>;

export async function startChangeDelivery(client: Client, taskQueue: string, subscriberId: number, config: ChangeDeliveryConfig): Promise<void> {
  const input: ChangeDeliveryInput = { subscriberId, maxAttempts: config.changesDeliveryMaxAttempts, maxBackoff: config.changesDeliveryMaxBackoff };
  await client.workflow.start<typeof changeDeliveryWorkflow>(CHANGE_DELIVERY_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: changeDeliveryWorkflowId(subscriberId),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}

/** Ensures every live subscriber's workflow runs; returns how many. */
export async function ensureAllChangeDeliveries(client: Client, taskQueue: string, db: Database, config: ChangeDeliveryConfig): Promise<number> {
  const ids = await createSubscriberStore(db).activeIds();
  for (const id of ids) await startChangeDelivery(client, taskQueue, id, config);
  return ids.length;
}
