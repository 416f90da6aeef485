// The fake's pacing faults, both off by default: a per-agreement rate limit (N accepted calls per fixed
// window, then 429 with Retry-After until the window ends: e-conomic throttles per agreement, see
// docs/economic-api.md) and a latency added to every answer, so benchmarks and budget tests meet an
// e-conomic that is neither instant nor unlimited.

import { performance } from 'node:perf_hooks';

export interface RateLimitSpec {
  /** Calls one agreement may make per window. */
  calls: number;
  windowMs: number;
}

/** Fixed milliseconds, or a uniformly random delay between `minMs` and `maxMs` per call. */
export type LatencySpec = number | { minMs: number; maxMs: number };

export function checkRateLimit(spec: RateLimitSpec): RateLimitSpec {
  if (!Number.isInteger(spec.calls) || spec.calls < 1) throw new RangeError('rateLimit.calls must be a positive integer');
  if (!Number.isFinite(spec.windowMs) || spec.windowMs <= 0) throw new RangeError('rateLimit.windowMs must be positive');
  return { ...spec };
}

export function checkLatency(spec: LatencySpec): LatencySpec {
  const [min, max] = typeof spec === 'number' ? [spec, spec] : [spec.minMs, spec.maxMs];
  if (!(min >= 0 && max >= min && Number.isFinite(max))) throw new RangeError('latency must be 0 ≤ minMs ≤ maxMs');
  return typeof spec === 'number' ? spec : { ...spec };
}

export function latencyOf(spec: LatencySpec | undefined): number {
  if (spec === undefined) return 0;
  if (typeof spec === 'number') return spec;
  return spec.minMs + Math.random() * (spec.maxMs - spec.minMs);
}

interface Window {
  startedAt: number;
  used: number;
}

/** Per-agreement fixed windows. Only accepted calls use the budget; refused ones do not. */
export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  /** Takes one call from the agreement's budget: undefined when allowed, else milliseconds until the window ends. */
  take(agreement: string, spec: RateLimitSpec, now: number = performance.now()): number | undefined {
    let w = this.windows.get(agreement);
    if (!w || now - w.startedAt >= spec.windowMs) {
      w = { startedAt: now, used: 0 };
      this.windows.set(agreement, w);
    }
    if (w.used >= spec.calls) return w.startedAt + spec.windowMs - now;
    w.used += 1;
    return undefined;
  }

  reset(agreement?: string): void {
    if (agreement === undefined) this.windows.clear();
    else this.windows.delete(agreement);
  }
}
