// Each activity group's timeouts and retry policy, in one place (activities/index.ts names the groups).
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_TYPES } from '../src/shared/failure-types';

// The entity sync calls e-conomic: transient errors (and a database that is briefly unreachable,
// `DatabaseUnavailable`) back off up to 2 minutes apart, 429 waits Retry-After (set by the activity as
// nextRetryDelay). Refusals no retry heals fail at once, an integrity violation included (the activity
// itself fetches again a few times first). After ~30 attempts (about an hour) the sync fails visibly and
// `retry-failed` or the next event starts it again. The activity heartbeats while it runs
// (activities/heartbeat.ts): a killed worker's work is retried elsewhere after the heartbeat timeout, not
// after the start-to-close timeout.
export const SYNC_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 30, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
};

// A sync's first attempt runs as a local activity, inside the workflow task that brought the event: no
// activity task is scheduled and no second workflow task takes its result, so an ordinary sync costs one
// workflow task instead of two (docs/temporal.md, "Local-first sync"). It has one attempt. A failure a
// retry may heal hands the sync to the ordinary `syncEntity` activity under SYNC_OPTIONS, whose attempts,
// backoff and last failure the Temporal UI shows as a pending activity; a failure no retry heals fails the
// sync at once, as under SYNC_OPTIONS. A worker killed mid-attempt lets the workflow task time out, and
// another worker runs the attempt again from the start (a sync is idempotent). The timeout bounds how long
// one attempt may hold the workflow task: a slower sync goes on as an ordinary activity.
export const LOCAL_SYNC_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
};

// Database-only bookkeeping: a database outage is retried until Postgres is back (it must lose nothing),
// with no attempt limit; so these activities fail any other error at once (a constraint, a bug: they
// raise them non-retryable, activities/database-failure.ts), and the types are listed here as well.
export const BOOKKEEPING_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
};

// One reconciliation call lists at most `pagesPerActivity` pages and signals the entities that differ; it
// never waits for them (the reconcile workflow does, without a slot), so its time is bounded by its
// pages. The heartbeat carries its cursor, so a retry (429 with Retry-After, a killed worker) resumes
// there. Database errors are typed as for the sync: an outage retries, a refused statement does not. The
// attempts are bounded (about half an hour of backoff): a scope that keeps failing is reported by the run,
// which ends, so the next scheduled run is not skipped behind it.
export const RECONCILIATION_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 20, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
};
