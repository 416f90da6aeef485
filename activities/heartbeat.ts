// Keeps short activities heartbeating while they run, so when a worker dies mid-activity Temporal
// notices within the heartbeat timeout (seconds) and retries elsewhere, instead of waiting for the
// whole start-to-close timeout. Not for activities that heartbeat their own progress details. A local
// activity (a sync's first attempt: workflows/activity-options.ts) has no heartbeat; the workflow task it
// runs in is what Temporal watches, so it is not heartbeated.
import { Context } from '@temporalio/activity';

export const HEARTBEAT_EVERY_MS = 2000;

type AsyncFn = (...args: never[]) => Promise<unknown>;

export function withHeartbeats<T extends Record<string, AsyncFn>>(activities: T): T {
  const wrapped: Record<string, AsyncFn> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      const context = Context.current();
      if (context.info.isLocal) return fn(...args);
      context.heartbeat();
      const timer = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        return await fn(...args);
      } finally {
        clearInterval(timer);
      }
    };
  }
  return wrapped as T;
}
