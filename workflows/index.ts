// Every workflow the sync worker runs. The worker bundles this file (workflowsPath).
export { entitySyncWorkflow } from './entity-sync';
export { reconcileWorkflow } from './reconcile';
