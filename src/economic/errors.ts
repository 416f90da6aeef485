// Errors raised by the e-conomic client. Messages and fields never carry a token: only a path template,
// a status, a classification and e-conomic's own identifiers (logId, traceId, errorCode).

/**
 * - `unauthorized` (401): the grant is revoked or a token is wrong; the tenant's credentials are broken.
 * - `forbidden` (403): this agreement or our app's role may not read `resource` (e.g. no Project module:
 *   see `missingModule`). It concerns that resource only, never the whole tenant (docs/economic-api.md).
 * - `rate_limited` (429) and `transient` (5xx, timeouts, network, malformed bodies): retry later.
 * - `bad_request` (other 4xx): a bug on our side.
 * - `listing_not_found`: a 404 on a collection. A listing is never "not found" because it is empty, so
 *   this means a wrong base URL or path; it must never be read as "e-conomic has nothing".
 * - `budget_exhausted`: raised before calling, never by e-conomic: the agreement's daily call budget (or
 *   the share a reconciliation may use) is spent; `retryAfterMs` is the time until the window ends.
 */
export type EconomicErrorKind = 'unauthorized' | 'forbidden' | 'rate_limited' | 'transient' | 'bad_request' | 'listing_not_found' | 'budget_exhausted';

/** Which of e-conomic's two API families answered: the legacy REST or the Projects API. */
export type EconomicApi = 'rest' | 'projects';

export interface EconomicErrorInit {
  kind: EconomicErrorKind;
  message: string;
  endpoint: string;
  api?: EconomicApi;
  status?: number;
  retryAfterMs?: number;
  logId?: string;
  traceId?: string;
  errorCode?: string;
  missingModule?: string;
}

/** `/orders/drafts/{n}` → `orders/drafts`, `/Projects` → `projects`: the collection an endpoint belongs to. */
export function resourceOf(endpoint: string): string {
  return endpoint.replace(/\/\{n\}$/, '').replace(/^\/+/, '').toLowerCase();
}

export class EconomicError extends Error {
  override name = 'EconomicError';
  readonly kind: EconomicErrorKind;
  readonly api: EconomicApi;
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** Path template such as `/orders/drafts/{n}`: no query string, never a token. */
  readonly endpoint: string;
  /** The collection the endpoint belongs to, lower-case: `customers`, `orders/drafts`, `projects`, `self`. */
  readonly resource: string;
  /** Legacy REST's `logId`. */
  readonly logId?: string;
  /** Projects API's `traceId` (quote it to e-conomic support). */
  readonly traceId?: string;
  /** e-conomic's `errorCode`, e.g. `AccessDeniedAgreementMissingModules`. */
  readonly errorCode?: string;
  /** On `forbidden` because the agreement lacks an e-conomic module: its name as e-conomic gives it, e.g. `Project`. */
  readonly missingModule?: string;

  constructor(init: EconomicErrorInit) {
    super(init.message);
    this.kind = init.kind;
    this.endpoint = init.endpoint;
    this.api = init.api ?? 'rest';
    this.resource = resourceOf(init.endpoint);
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.logId !== undefined) this.logId = init.logId;
    if (init.traceId !== undefined) this.traceId = init.traceId;
    if (init.errorCode !== undefined) this.errorCode = init.errorCode;
    if (init.missingModule !== undefined) this.missingModule = init.missingModule;
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
      api: this.api,
      endpoint: this.endpoint,
      resource: this.resource,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      logId: this.logId,
      traceId: this.traceId,
      errorCode: this.errorCode,
      missingModule: this.missingModule,
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
