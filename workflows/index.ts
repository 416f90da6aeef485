// Every workflow the sync worker runs. The worker bundles this file (workflowsPath); clients start and
// signal these by the type names in src/shared, never by importing this code.
import { ENTITY_SYNC_WORKFLOW_TYPE } from '../src/shared/sync-signals';
import { RECONCILE_WORKFLOW_TYPE } from '../src/shared/reconcile';
import { CHANGE_DELIVERY_WORKFLOW_TYPE } from '../src/shared/change-delivery';
import { changeDeliveryWorkflow } from './change-delivery';
import { entitySyncWorkflow } from './entity-sync';
import { reconcileWorkflow } from './reconcile';

export { changeDeliveryWorkflow, entitySyncWorkflow, reconcileWorkflow };

/**
 * Each workflow under its type name: the export name is the type Temporal registers, and this fails to
 * compile when an export and its name in src/shared drift apart.
 */
export const WORKFLOWS_BY_TYPE = { entitySyncWorkflow, reconcileWorkflow, changeDeliveryWorkflow } satisfies Record<
  typeof ENTITY_SYNC_WORKFLOW_TYPE | typeof RECONCILE_WORKFLOW_TYPE | typeof CHANGE_DELIVERY_WORKFLOW_TYPE,
  (...args: never[]) => Promise<unknown>
>;
