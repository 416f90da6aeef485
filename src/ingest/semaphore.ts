// Bounded concurrency with a bounded wait queue and a deadline: `acquire` resolves to a release
// function, or to undefined when the queue is full or the wait exceeded its deadline. Never hangs.
export interface Semaphore {
  acquire(waitMs: number): Promise<(() => void) | undefined>;
  readonly inFlight: number;
  readonly waiting: number;
}

export function createSemaphore(limit: number, maxWaiting: number): Semaphore {
  let inFlight = 0;
  const queue: { grant: (release: () => void) => void; timer: NodeJS.Timeout }[] = [];

  const release = () => {
    const next = queue.shift();
    if (next) {
      clearTimeout(next.timer);
      next.grant(once());
    } else {
      inFlight -= 1;
    }
  };
  const once = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  };

  return {
    get inFlight() {
      return inFlight;
    },
    get waiting() {
      return queue.length;
    },
    acquire(waitMs) {
      if (inFlight < limit) {
        inFlight += 1;
        return Promise.resolve(once());
      }
      if (queue.length >= maxWaiting || waitMs <= 0) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const entry = {
          grant: (r: () => void) => resolve(r),
          timer: setTimeout(() => {
            const index = queue.indexOf(entry);
            if (index >= 0) queue.splice(index, 1);
            resolve(undefined);
          }, waitMs),
        };
        queue.push(entry);
      });
    },
  };
}
