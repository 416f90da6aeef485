// Per-key token buckets: `ratePerSecond` sustained, `burst` at once. In memory, per instance.
export interface RateLimiter {
  /** Takes a token for `id`; returns 0 when allowed, else the seconds until one is available. */
  take(id: string): number;
}

export function createRateLimiter(options: { ratePerSecond: number; burst: number; now?: () => number; maxKeys?: number }): RateLimiter {
  const now = options.now ?? (() => performance.now());
  const maxKeys = options.maxKeys ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(id) {
      const t = now();
      let bucket = buckets.get(id);
      if (!bucket) {
        if (buckets.size >= maxKeys) {
          // Drop full (idle) buckets first: they carry no state worth keeping.
          for (const [key, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * options.ratePerSecond >= options.burst) buckets.delete(key);
        }
        bucket = { tokens: options.burst, at: t };
        buckets.set(id, bucket);
      } else {
        bucket.tokens = Math.min(options.burst, bucket.tokens + ((t - bucket.at) / 1000) * options.ratePerSecond);
        bucket.at = t;
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / options.ratePerSecond));
    },
  };
}
