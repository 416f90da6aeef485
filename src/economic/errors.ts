// Errors raised by the e-conomic client. Messages and fields never carry a token: only a path template,
// a status, a classification and e-conomic's own logId.

export type EconomicErrorKind = 'unauthorized' | 'forbidden' | 'rate_limited' | 'transient' | 'bad_request';

export interface EconomicErrorInit {
  kind: EconomicErrorKind;
  message: string;
  endpoint: string;
  status?: number;
  retryAfterMs?: number;
  logId?: string;
}

export class EconomicError extends Error {
  override name = 'EconomicError';
  readonly kind: EconomicErrorKind;
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** Path template such as `/orders/drafts/{n}`: no query string, never a token. */
  readonly endpoint: string;
  readonly logId?: string;

  constructor(init: EconomicErrorInit) {
    super(init.message);
    this.kind = init.kind;
    this.endpoint = init.endpoint;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.logId !== undefined) this.logId = init.logId;
  }

  /** Whether retrying the same call later can succeed. */
  get retryable(): boolean {
    return this.kind === 'transient' || this.kind === 'rate_limited';
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      endpoint: this.endpoint,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      logId: this.logId,
    };
  }
}

export function isEconomicError(e: unknown): e is EconomicError {
  return e instanceof EconomicError;
}

/** Maps an HTTP status (other than 2xx and 404) to an error kind. */
export function kindForStatus(status: number): EconomicErrorKind {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'transient';
  return 'bad_request';
}

/**
 * `Retry-After` as milliseconds: either delta-seconds or an HTTP date. Undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
