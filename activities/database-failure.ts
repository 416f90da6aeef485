// Turns database errors into activity failures whose retry matches what heals them (src/db/errors.ts):
// an unreachable or restarting Postgres is retried (`DatabaseUnavailable`), an integrity violation or any
// other refused statement fails at once (`IntegrityViolation`, `DatabaseError`), told without the
// statement's parameters. The bookkeeping group, whose policy retries without an attempt limit so that a
// database outage loses nothing, goes further: only an outage is retried, anything else (a bug included)
// fails at once, so no activity retries forever what cannot heal by itself.
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { describeDatabaseError, isDatabaseFailure, isDatabaseUnavailable, isIntegrityViolation } from '../src/db/errors';
import { FAILURE_TYPES } from '../src/shared/failure-types';

/** The typed failure of a database error; undefined for any other error. */
export function toDatabaseFailure(err: unknown): ApplicationFailure | undefined {
  if (err instanceof TemporalFailure || !isDatabaseFailure(err)) return undefined;
  const message = describeDatabaseError(err);
  if (isDatabaseUnavailable(err)) return ApplicationFailure.retryable(message, FAILURE_TYPES.databaseUnavailable);
  return ApplicationFailure.nonRetryable(message, isIntegrityViolation(err) ? FAILURE_TYPES.integrityViolation : FAILURE_TYPES.database);
}

type AsyncFn = (...args: never[]) => Promise<unknown>;

function mapFailures<T extends Record<string, AsyncFn>>(activities: T, map: (err: unknown) => unknown): T {
  const wrapped: Record<string, AsyncFn> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw map(err);
      }
    };
  }
  return wrapped as T;
}

/** Database errors get their failure types; every other error is left as it is. */
export function withDatabaseFailures<T extends Record<string, AsyncFn>>(activities: T): T {
  return mapFailures(activities, (err) => toDatabaseFailure(err) ?? err);
}

/** Only a database outage is retried; any other error (typed failures aside) fails the activity at once. */
export function retryingOnlyDatabaseOutages<T extends Record<string, AsyncFn>>(activities: T): T {
  return mapFailures(activities, (err) => {
    if (err instanceof TemporalFailure) return err;
    const failure = toDatabaseFailure(err);
    if (failure) return failure;
    const error = err instanceof Error ? err : new Error(String(err));
    return ApplicationFailure.nonRetryable(`${error.name}: ${error.message}`, error.name);
  });
}
