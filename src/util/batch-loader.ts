// Reads many keys in one query while a burst of requests each needs one (docs/webhook.md, "Durable
// acceptance"): `load(key)` joins the batch that has not been sent yet, and a batch is sent when a slot
// of `maxConcurrent` is free. A request never joins a read already in flight, so every answer comes from
// a read that began after the request asked: as exact as one query per request (a revocation committed
// before a request arrived is seen by it), at a fraction of the round trips and CPU.
export interface BatchLoader<K, V> {
  /** The value for `key` (undefined when the read found none); rejects when the batch's read failed. */
  load(key: K): Promise<V | undefined>;
}

export function createBatchLoader<K, V>(
  read: (keys: K[]) => Promise<Map<K, V>>,
  options: { maxBatch?: number; maxConcurrent?: number } = {},
): BatchLoader<K, V> {
  const maxBatch = options.maxBatch ?? 500;
  const maxConcurrent = options.maxConcurrent ?? 2;
  type Waiter = { resolve: (value: V | undefined) => void; reject: (err: unknown) => void };
  let pending = new Map<K, Waiter[]>();
  let inFlight = 0;
  let scheduled = false;

  const send = () => {
    scheduled = false;
    while (inFlight < maxConcurrent && pending.size > 0) {
      let batch: Map<K, Waiter[]>;
      if (pending.size <= maxBatch) {
        batch = pending;
        pending = new Map();
      } else {
        batch = new Map();
        for (const [key, waiters] of pending) {
          if (batch.size >= maxBatch) break;
          batch.set(key, waiters);
        }
        for (const key of batch.keys()) pending.delete(key);
      }
      inFlight += 1;
      read([...batch.keys()])
        .then(
          (values) => {
            for (const [key, waiters] of batch) for (const w of waiters) w.resolve(values.get(key));
          },
          (err: unknown) => {
            for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
          },
        )
        .finally(() => {
          inFlight -= 1;
          send();
        })
        .catch(() => {});
    }
  };

  return {
    load(key) {
      return new Promise<V | undefined>((resolve, reject) => {
        const waiters = pending.get(key);
        if (waiters) waiters.push({ resolve, reject });
        else pending.set(key, [{ resolve, reject }]);
        // Requests arriving in the same turn of the event loop share a read even on an idle service.
        if (!scheduled && inFlight < maxConcurrent) {
          scheduled = true;
          setImmediate(send);
        }
      });
    },
  };
}
