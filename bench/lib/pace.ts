// The benchmark's realistic mode (BENCH_REALISTIC, docs/benchmarks.md "Targets and realistic mode"): the
// fake e-conomic answers with e-conomic-like latency (uniformly random, default 100-200 ms per call) and a
// per-agreement rate limit, so a run is bound by the API rather than by this machine. Its figure of merit is
// the ratio to the API-bound floor: the least time any client needs for the calls it made, given how many it
// may have in flight for one agreement (`concurrency`) and how many the agreement may make per second.

import type { CallConcurrency } from '../../test/fake-economic';

export interface Pace {
  latency: { minMs: number; maxMs: number };
  meanLatencyMs: number;
  /** Calls one agreement may make per second (fixed one-second windows in the fake). */
  ratePerSecond: number;
  /** Calls the service makes at once against one agreement. */
  concurrency: number;
  /** Where `concurrency` comes from, for the printed notes. */
  concurrencySource: string;
}

/**
 * The calls the service has in flight for one agreement: every e-conomic call of a sync runs in a
 * `syncEntity` activity, and one worker runs at most 20 at once (src/worker.ts, createSyncWorker's default
 * maxConcurrentActivityTaskExecutions); the reconciliation's own listing is one call at a time, and it
 * hands entities on 16 at a time (ReconcileOptions.concurrency), so 20 bounds both lanes of one worker.
 */
export const SERVICE_API_CONCURRENCY = 20;

export function paceFromEnv(env: NodeJS.ProcessEnv): Pace {
  const [minText, maxText] = (env.BENCH_LATENCY_MS ?? '100-200').split('-');
  const minMs = Number(minText);
  const maxMs = Number(maxText ?? minText);
  if (!(minMs >= 0 && maxMs >= minMs)) throw new Error(`BENCH_LATENCY_MS must be "min-max" milliseconds, got "${env.BENCH_LATENCY_MS ?? ''}"`);
  const ratePerSecond = Number(env.BENCH_RATE_LIMIT ?? 600);
  if (!Number.isInteger(ratePerSecond) || ratePerSecond < 1) throw new Error('BENCH_RATE_LIMIT must be a positive integer (calls per second per agreement)');
  const concurrency = Number(env.BENCH_API_CONCURRENCY ?? SERVICE_API_CONCURRENCY);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('BENCH_API_CONCURRENCY must be a positive integer');
  return {
    latency: { minMs, maxMs },
    meanLatencyMs: (minMs + maxMs) / 2,
    ratePerSecond,
    concurrency,
    concurrencySource: env.BENCH_API_CONCURRENCY ? 'BENCH_API_CONCURRENCY' : "the worker's activity slots, src/worker.ts",
  };
}

/** max(calls × mean latency ÷ concurrency, calls ÷ rate limit), in milliseconds. */
export function apiFloorMs(calls: number, pace: Pace, concurrency = pace.concurrency): number {
  return Math.max((calls * pace.meanLatencyMs) / concurrency, (calls / pace.ratePerSecond) * 1000);
}

export function describePace(pace: Pace): string {
  return `latency ${pace.latency.minMs}-${pace.latency.maxMs} ms, rate limit ${pace.ratePerSecond}/s per agreement, floor at ${pace.concurrency} calls in flight (${pace.concurrencySource})`;
}

/**
 * How much of the allowed concurrency a run kept busy, as e-conomic saw it (the fake's meter): a run at
 * its floor keeps `concurrency` calls in flight from its first call to its last, so the ratio to the floor
 * is roughly concurrency ÷ mean in flight, plus what the run spent before its first call and after its last.
 */
export function inFlightNote(c: CallConcurrency, concurrency: number): string {
  return `calls in flight ${c.meanInFlight.toFixed(1)} on average of ${concurrency} (peak ${c.peak}) over ${(c.spanMs / 1000).toFixed(1)} s`;
}
