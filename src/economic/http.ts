// One GET against e-conomic: headers, timeout combined with the caller's signal, call counting (with how each
// call ended and how long it took), and classification of every failure into an EconomicError. Tokens only
// ever travel in request headers.
// A 404 means "no such entity" on a single GET but "wrong base URL or path" on a listing
// (docs/economic-api.md), so the two are separate methods. A `CallGate` (the agreement's shared call
// budget and 429 pause, docs/economic-api.md "The call budget") is asked before every call and told of
// every 429.

import { outcomeOfStatus, type CallCounter, type CallOutcome } from './call-counter';
import { readErrorBody } from './error-body';
import { EconomicError, kindForStatus, parseRetryAfter } from './errors';
import type { EconomicApi } from './errors';
import { ShapeError } from './types';

export interface HttpOptions {
  appSecretToken: string;
  grantToken: string;
  timeoutMs: number;
  signal?: AbortSignal;
  counter?: CallCounter;
  agreementKey: string;
  gate?: CallGate;
}

/**
 * Asked before each call; throws an EconomicError instead of letting it out (`rate_limited` while the
 * agreement is paused, `budget_exhausted` past its budget). Implemented on Postgres by src/access/call-budget.ts.
 */
export interface CallGate {
  beforeCall(endpoint: string): Promise<void>;
  /** e-conomic answered 429: pause the agreement (for `retryAfterMs`, or a default backoff). */
  rateLimited(retryAfterMs: number | undefined): Promise<void>;
}

export type Query = Record<string, string | number | undefined>;

export interface GetRequest<T> {
  /** Which API family `base` belongs to (error bodies and reports differ). */
  api: EconomicApi;
  /** Absolute base URL without a trailing slash. */
  base: string;
  /** Concrete path, e.g. `/orders/drafts/12`. */
  path: string;
  /** Path template used in errors and counters, e.g. `/orders/drafts/{n}`. */
  endpoint: string;
  query?: Query;
  parse: (body: unknown) => T;
}

function buildUrl(base: string, path: string, query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return `${base}${path}${qs ? `?${qs}` : ''}`;
}

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && typeof cur === 'object' && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === 'TimeoutError' || errorCode(e) === 'UND_ERR_HEADERS_TIMEOUT');
}

export class EconomicHttp {
  constructor(private readonly o: HttpOptions) {}

  /** Removes any token from text that came from elsewhere (server messages), defensively. */
  redact(text: string): string {
    let out = text;
    for (const secret of [this.o.appSecretToken, this.o.grantToken]) {
      if (secret.length > 0) out = out.split(secret).join('[redacted]');
    }
    return out;
  }

  /** GET of one entity: the parsed body, or null on 404 (the entity does not exist in this state). */
  get<T>(req: GetRequest<T>): Promise<T | null> {
    return this.request(req, 'entity');
  }

  /** GET of a listing page: a 404 raises `listing_not_found`, never "empty". */
  async list<T>(req: GetRequest<T>): Promise<T> {
    // `request` only answers null for an entity's 404.
    return (await this.request(req, 'listing')) as T;
  }

  private async request<T>(req: GetRequest<T>, target: 'entity' | 'listing'): Promise<T | null> {
    const { endpoint } = req;
    const callerSignal = this.o.signal;
    callerSignal?.throwIfAborted();
    const signal = callerSignal
      ? AbortSignal.any([callerSignal, AbortSignal.timeout(this.o.timeoutMs)])
      : AbortSignal.timeout(this.o.timeoutMs);
    if (this.o.gate) await this.o.gate.beforeCall(endpoint);
    const counter = this.o.counter;
    if (!counter) return this.exchange(req, target, signal);
    counter.record(this.o.agreementKey, endpoint);
    const started = performance.now();
    let outcome: CallOutcome = 'network';
    try {
      return await this.exchange(req, target, signal, (o) => (outcome = o));
    } finally {
      counter.answered(endpoint, outcome, (performance.now() - started) / 1000);
    }
  }

  /** The call itself; `ended` is told how it ended: the HTTP status's class, or why no answer came. */
  private async exchange<T>(req: GetRequest<T>, target: 'entity' | 'listing', signal: AbortSignal, ended?: (outcome: CallOutcome) => void): Promise<T | null> {
    const { endpoint, api } = req;
    const callerSignal = this.o.signal;

    const transient = (what: string, status?: number): EconomicError =>
      new EconomicError({ kind: 'transient', endpoint, api, message: this.redact(`e-conomic GET ${endpoint}: ${what}`), ...(status !== undefined ? { status } : {}) });
    const onFailure = (e: unknown): never => {
      ended?.(callerSignal?.aborted ? 'cancelled' : isTimeout(e) ? 'timeout' : 'network');
      if (callerSignal?.aborted) throw callerSignal.reason;
      if (e instanceof EconomicError) throw e;
      if (isTimeout(e)) throw transient(`timed out after ${this.o.timeoutMs} ms`);
      throw transient(`network error (${errorCode(e) ?? (e instanceof Error ? e.name : 'unknown')})`);
    };

    let res: Response;
    let text: string;
    try {
      res = await fetch(buildUrl(req.base, req.path, req.query), {
        method: 'GET',
        headers: {
          'X-AppSecretToken': this.o.appSecretToken,
          'X-AgreementGrantToken': this.o.grantToken,
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
        signal,
      });
      ended?.(outcomeOfStatus(res.status));
      text = await res.text();
    } catch (e) {
      return onFailure(e);
    }

    if (res.status === 404 && target === 'entity') return null;
    if (res.status < 200 || res.status >= 300) {
      const err = this.statusError(req, res, text);
      if (err.kind === 'rate_limited' && this.o.gate) await this.o.gate.rateLimited(err.retryAfterMs);
      throw err;
    }

    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw transient('malformed JSON in response', res.status);
    }
    try {
      return req.parse(body);
    } catch (e) {
      if (e instanceof ShapeError) throw transient(`unexpected response shape (${e.message})`, res.status);
      throw e;
    }
  }

  private statusError(req: GetRequest<unknown>, res: Response, text: string): EconomicError {
    const { endpoint, api } = req;
    const body = readErrorBody(text);
    const listing404 = res.status === 404;
    const kind = listing404 ? 'listing_not_found' : kindForStatus(res.status);
    const retryAfterMs = kind === 'rate_limited' ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
    const what = listing404
      ? `HTTP 404 on a listing: the ${api === 'projects' ? 'Projects API' : 'REST'} base URL or path is wrong (an empty listing is never a 404)`
      : `HTTP ${res.status} ${kind}`;
    const message = this.redact(`e-conomic GET ${endpoint}: ${what}${body.text ? `: ${body.text}` : ''}`);
    return new EconomicError({
      kind,
      api,
      endpoint,
      message,
      status: res.status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(body.logId !== undefined ? { logId: this.redact(body.logId) } : {}),
      ...(body.traceId !== undefined ? { traceId: this.redact(body.traceId) } : {}),
      ...(body.errorCode !== undefined ? { errorCode: this.redact(body.errorCode) } : {}),
      ...(kind === 'forbidden' && body.missingModule !== undefined ? { missingModule: this.redact(body.missingModule) } : {}),
    });
  }
}
