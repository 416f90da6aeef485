// Bounds how long we wait for a promise (a database query, a Temporal call, a readiness probe): the
// webhook must answer fast, so no dependency may hold it indefinitely.
export function withTimeout<T>(promise: PromiseLike<T>, ms: number, what = 'operation'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    Promise.resolve(promise).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
