// The burst's load generator (docs/benchmarks.md, "Burst, measured on 2026-11-30"): autocannon, the
// client the bare-Fastify ceiling is measured with, sends each webhook once and reports every answer
// against the webhook it answers. The test suite's emitter (test/fake-economic/webhook-emitter.ts) goes
// through Node's HTTP client: against the bare route it reaches ~5,300 requests/s where autocannon reaches
// ~24,000, and in a burst it took 85-97 % of the bench's main thread, CPU the service it measured lacked.
import autocannon from 'autocannon';

export interface LoadRequest<T> {
  /** Path and query, e.g. `/?APIKey=…&APISource=eConomicOrder`. */
  path: string;
  /** A JSON body. */
  body: string;
  /** What the request stands for, handed back with its answer. */
  item: T;
}

export interface LoadAnswer<T> {
  item: T;
  /** HTTP status, or 0 when no answer came (a reset or a timeout; autocannon does not resend it). */
  status: number;
  body: string;
  /** When the answer arrived, in ms since the load began (the load's end for a request never answered). */
  answeredMs: number;
}

/** Sends every request once, in the given order, over `connections` keep-alive sockets. */
export async function sendLoad<T>(url: string, requests: readonly LoadRequest<T>[], connections: number, timeoutMs: number): Promise<{ ms: number; answers: LoadAnswer<T>[] }> {
  const answers: LoadAnswer<T>[] = requests.map((r) => ({ item: r.item, status: 0, body: '', answeredMs: NaN }));
  let next = 0;
  const started = performance.now();
  await autocannon({
    url,
    // autocannon gives each socket an equal share of `amount` and rejects more sockets than requests.
    connections: Math.max(1, Math.min(connections, requests.length)),
    amount: requests.length,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    timeout: Math.ceil(timeoutMs / 1000),
    requests: [
      {
        // Called as each request is built, right before it is written (and once per socket at the start).
        setupRequest: (request, context: { index?: number }) => {
          // A socket that lost its request to a reset builds one more than its share: it resends the last
          // webhook, whose answer is not recorded (a duplicate event the service merges anyway).
          const index = next < requests.length ? next++ : -1;
          const chosen = requests[index === -1 ? requests.length - 1 : index] as LoadRequest<T>;
          context.index = index;
          return { ...request, path: chosen.path, body: chosen.body };
        },
        onResponse: (status, body, context: { index?: number }) => {
          const answer = context.index === undefined ? undefined : answers[context.index];
          if (answer) Object.assign(answer, { status, body, answeredMs: performance.now() - started });
        },
      },
    ],
  });
  // autocannon notices that it is done only on its next one-second sample, so the load's time is its last
  // answer's, unless some request never got one (then the time autocannon gave up).
  const ended = performance.now() - started;
  const unanswered = answers.filter((a) => Number.isNaN(a.answeredMs));
  for (const answer of unanswered) answer.answeredMs = ended;
  const ms = unanswered.length > 0 ? ended : answers.reduce((last, a) => Math.max(last, a.answeredMs), 0);
  return { ms, answers };
}
