// Turns the e-conomic client's error classes into Temporal activity failures, so the retry policy does
// the right thing: 429 (or an agreement paused after one) waits exactly Retry-After (nextRetryDelay), a
// spent call budget waits for its window to end, transient errors back off, and
// refusals that no retry can heal (401, 403, 400, a listing's 404) fail at once with a readable type.
// Messages carry the endpoint template and status, never a token.
import { ApplicationFailure } from '@temporalio/common';
import { isEconomicError } from '../src/economic';
import { FAILURE_TYPES } from '../src/shared/failure-types';

export { FAILURE_TYPES };

/** Whether the error means the tenant's grant is unusable (so the tenant gets marked broken). */
export function isCredentialRefusal(err: unknown): boolean {
  return isEconomicError(err) && (err.kind === 'unauthorized' || err.kind === 'forbidden');
}

export function toActivityFailure(err: unknown): Error {
  if (!isEconomicError(err)) return err instanceof Error ? err : new Error(String(err));
  const where = `${err.endpoint}${err.status ? ` (HTTP ${err.status})` : ''}`;
  switch (err.kind) {
    case 'unauthorized':
      return ApplicationFailure.nonRetryable(
        `e-conomic refused the agreement grant at ${where}: it was revoked or is wrong. The customer must send a valid eConomicAPIKey.`,
        FAILURE_TYPES.credentialsRejected,
      );
    case 'forbidden':
      return ApplicationFailure.nonRetryable(
        err.missingModule !== undefined
          ? `e-conomic does not let our app read ${where}: the agreement lacks the ${err.missingModule} module.`
          : `e-conomic does not let our app read ${where}: the app's role lacks access for this agreement.`,
        FAILURE_TYPES.forbidden,
      );
    case 'rate_limited':
      return ApplicationFailure.create({
        message: `e-conomic is throttling this agreement at ${where}${err.retryAfterMs !== undefined ? `; retrying after ${err.retryAfterMs} ms` : ''}`,
        type: FAILURE_TYPES.rateLimited,
        nextRetryDelay: err.retryAfterMs,
      });
    case 'transient':
      return ApplicationFailure.retryable(`e-conomic failed transiently at ${where}: ${err.message}`, FAILURE_TYPES.transient);
    case 'listing_not_found':
      return ApplicationFailure.nonRetryable(
        `e-conomic answered 404 for the listing ${where}: the base URL or path is wrong (ECONOMIC_REST_URL, ECONOMIC_PROJECTS_URL); nothing was read as deleted.`,
        FAILURE_TYPES.listingNotFound,
      );
    case 'budget_exhausted':
      // Not e-conomic's answer: our own budget refused the call (src/access/call-budget.ts). Retried when
      // the window ends; the workflow's attempt limit makes a sync that keeps waiting fail visibly.
      return ApplicationFailure.create({ message: err.message, type: FAILURE_TYPES.budgetExhausted, nextRetryDelay: err.retryAfterMs });
    case 'bad_request':
      return ApplicationFailure.nonRetryable(`e-conomic rejected our request at ${where} (a bug on our side): ${err.message}`, FAILURE_TYPES.badRequest);
  }
}
