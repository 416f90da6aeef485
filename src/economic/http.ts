// One GET against e-conomic: headers, timeout combined with the caller's signal, call counting, and
// classification of every failure into an EconomicError. Tokens only ever travel in request headers.

import type { CallCounter } from './call-counter';
import { EconomicError, kindForStatus, parseRetryAfter } from './errors';
import { ShapeError } from './types';

export interface HttpOptions {
  appSecretToken: string;
  grantToken: string;
  timeoutMs: number;
  signal?: AbortSignal;
  counter?: CallCounter;
  agreementKey: string;
}

export type Query = Record<string, string | number | undefined>;

export interface GetRequest<T> {
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

  /** GET returning the parsed body, or null on 404. */
  async get<T>(req: GetRequest<T>): Promise<T | null> {
    const { endpoint } = req;
    const callerSignal = this.o.signal;
    callerSignal?.throwIfAborted();
    const signal = callerSignal
      ? AbortSignal.any([callerSignal, AbortSignal.timeout(this.o.timeoutMs)])
      : AbortSignal.timeout(this.o.timeoutMs);
    this.o.counter?.record(this.o.agreementKey, endpoint);

    const transient = (what: string, status?: number): EconomicError =>
      new EconomicError({ kind: 'transient', endpoint, message: `e-conomic GET ${endpoint}: ${what}`, ...(status !== undefined ? { status } : {}) });
    const onFailure = (e: unknown): never => {
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
      text = await res.text();
    } catch (e) {
      return onFailure(e);
    }

    if (res.status === 404) return null;
    if (res.status < 200 || res.status >= 300) throw this.statusError(endpoint, res, text);

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

  private statusError(endpoint: string, res: Response, text: string): EconomicError {
    let detail = '';
    let logId: string | undefined;
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      if (typeof body.message === 'string') detail = body.message;
      if (typeof body.developerHint === 'string') detail += detail ? ` (${body.developerHint})` : body.developerHint;
      if (typeof body.logId === 'string') logId = body.logId;
    } catch {
      // Not JSON: keep the status alone.
    }
    const kind = kindForStatus(res.status);
    const retryAfterMs = kind === 'rate_limited' ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
    const message = this.redact(
      `e-conomic GET ${endpoint}: HTTP ${res.status} ${kind}${detail ? `: ${detail.slice(0, 500)}` : ''}`,
    );
    return new EconomicError({
      kind,
      endpoint,
      message,
      status: res.status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(logId !== undefined ? { logId: this.redact(logId) } : {}),
    });
  }
}
