// One durable delivery loop per change-feed subscriber (docs/change-feed.md), ID `change-delivery/<id>`,
// visible in the Temporal UI. Each round asks `deliverChanges` to send what is pending (it waits for new
// changes while idle); a change the subscriber refuses is retried by Temporal with exponential backoff up
// to the input's attempt limit, then dead-lettered and the loop goes on with the next one. Progress lives
// in Postgres (change_subscriber_progress), so a killed worker, a restart or continue-as-new resumes at
// the first change not yet accepted. The workflow ends when its subscriber is removed.
import { ActivityFailure, ApplicationFailure, continueAsNew, proxyActivities, sleep } from '@temporalio/workflow';
import type { DeliveryActivities, DeliveryBookkeepingActivities } from '../activities';
import { DELIVERY_FAILED, type ChangeDeliveryInput, type DeliveryFailureDetails } from '../src/shared/change-delivery';
import { BOOKKEEPING_OPTIONS } from './activity-options';

/** Rounds per run: continue-as-new keeps the history short for a subscriber that runs for years. */
const ROUNDS_PER_RUN = 200;

function refusedChange(err: unknown): { details: DeliveryFailureDetails; message: string } | undefined {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure) || err.cause.type !== DELIVERY_FAILED) return undefined;
  const details = err.cause.details?.[0] as DeliveryFailureDetails | undefined;
  return details ? { details, message: err.cause.message } : undefined;
}

export async function changeDeliveryWorkflow(input: ChangeDeliveryInput): Promise<void> {
  const { deliverChanges } = proxyActivities<DeliveryActivities>({
    startToCloseTimeout: '10 minutes',
    // Above the 10 s a POST may take (the activity heartbeats between POSTs): a killed worker's delivery
    // is taken over within this.
    heartbeatTimeout: '15 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: input.maxBackoff, maximumAttempts: input.maxAttempts },
  });
  const { deadLetterChange } = proxyActivities<DeliveryBookkeepingActivities>(BOOKKEEPING_OPTIONS);
  for (let round = 0; round < ROUNDS_PER_RUN; round += 1) {
    try {
      const result = await deliverChanges({ subscriberId: input.subscriberId });
      if (result.removed) return;
    } catch (err) {
      const refused = refusedChange(err);
      if (refused) {
        await deadLetterChange({ ...refused.details, error: refused.message });
      } else {
        // Anything else (the database refusing a statement, a secret that no longer decrypts): wait and
        // try again, so the subscriber is never silently abandoned; the failure is in the history.
        await sleep('1 minute');
      }
    }
  }
  await continueAsNew<typeof changeDeliveryWorkflow>(input);
}
