// Bounded concurrency over a list: the one pool reconciliation's fetches and signals and the bench's plain
// copy use. The first failure stops the pool from taking new items (work already started finishes) and is
// what the call rejects with, so a failing e-conomic or Temporal is not called for the rest of the list.

/** Runs `work` over `items`, at most `limit` at a time; the first failure stops taking new items and is thrown. */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const runners = Array.from({ length: Math.min(Math.max(1, limit), items.length) }, async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  });
  await Promise.all(runners);
}
