// Pure names of the change feed's outbound delivery (docs/change-feed.md), shared by the workflow, its
// activities and the clients that start it. No I/O here: workflows import it.
import { FAILURE_TYPES } from './failure-types';

export const CHANGE_DELIVERY_WORKFLOW_TYPE = 'changeDeliveryWorkflow';

/** One delivery workflow per subscriber, visible in the Temporal UI under this ID. */
export const changeDeliveryWorkflowId = (subscriberId: number) => `change-delivery/${subscriberId}`;

export interface ChangeDeliveryInput {
  subscriberId: number;
  /** Attempts (with exponential backoff) before a change is dead-lettered. */
  maxAttempts: number;
  /** The longest wait between two attempts, as a duration Temporal understands ("10m"). */
  maxBackoff: string;
}

/** The failure type of a delivery the subscriber did not accept (retried, then dead-lettered). */
export const DELIVERY_FAILED = FAILURE_TYPES.changeDeliveryFailed;

/** What a failed delivery's failure carries: which change to dead-letter. */
export interface DeliveryFailureDetails {
  subscriberId: number;
  tenantId: number;
  cursor: number;
}

/** The header that carries the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export const SIGNATURE_HEADER = 'economic-signature';
