// A fake e-conomic on a real node:http server: legacy REST and Projects API as docs/economic-api.md
// describes them (the Projects API under its versioned prefix with capitalised paths, cursor listing,
// zone-less timestamps, problem+json errors, 403 for an agreement without the Project module), per-agreement
// data, auth, paging and filtering, fault injection, a per-agreement rate limit, latency and call counting.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

import { registerSecret } from '../helpers/test-logs';
import { compileFilter, FilterError } from './filter';
import type { TimeReader } from './filter';
import { HttpError, legacyErrorBody, MISSING_MODULES_ERROR_CODE, problemBody } from './http-error';
import { DOC_KEY, renderCustomer, renderDocument, renderProject } from './render';
import type { DocKind } from './render';
import { FakeAgreementStore, FakeClock } from './store';
import type { DocRec, DocState, NumberedMap } from './store';
import { checkLatency, checkRateLimit, latencyOf, RateLimiter } from './throttle';
import type { LatencySpec, RateLimitSpec } from './throttle';
import { fromZoneless } from './zone-less';

/** Where the fake serves the Projects API: the path of `https://apis.e-conomic.com/projectsapi/v1.1.0`. */
export const PROJECTS_PREFIX = '/projectsapi/v1.1.0';
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 20;
/** Most items a page of the Projects cursor listing holds. */
export const MAX_PROJECTS_CURSOR_PAGE = 1000;

/** e-conomic modules an agreement may lack; the fake models the one the sync depends on. */
export type EconomicModule = 'Project';

export class FakeAgreement extends FakeAgreementStore {
  constructor(
    clock: FakeClock,
    readonly grantToken: string,
    readonly agreementNumber: number,
    readonly companyName: string,
  ) {
    super(clock);
  }
}

export interface AddAgreementOptions {
  grantToken: string;
  agreementNumber?: number;
  companyName?: string;
  /** Modules the agreement does not have: every Projects API endpoint then answers 403 (see withoutModule). */
  withoutModules?: readonly EconomicModule[];
  /** This agreement's own rate limit, replacing the fake-wide one; `null` for none. */
  rateLimit?: RateLimitSpec | null;
}

/** `held`: the call is answered (normally, or with `thenKind`) only when `until` settles: an e-conomic slow to answer. */
export type FaultKind = '429' | '404' | '500' | '503' | 'hang' | 'reset' | 'malformed' | 'truncated' | 'held';

export interface FaultSpec {
  /** Grant token the fault applies to; all agreements when absent. */
  agreement?: string;
  /** Path prefix (API-relative like `/orders/drafts` or full like `/projectsapi/v1/projects`) or RegExp. */
  path?: string | RegExp;
  times: number;
  /** Matching calls answered normally before the fault applies (default 0: the next one). */
  after?: number;
  kind: FaultKind;
  retryAfterSeconds?: number;
  /** `held` only: the answer waits for this. */
  until?: Promise<unknown>;
  /** `held` only: the fault answered once `until` settled; a normal answer when absent. */
  thenKind?: Exclude<FaultKind, 'held'>;
}

export class FaultInjector {
  private faults: FaultSpec[] = [];
  inject(f: FaultSpec): void {
    this.faults.push({ ...f });
  }
  clear(): void {
    this.faults = [];
  }
  get pending(): number {
    return this.faults.reduce((s, f) => s + f.times, 0);
  }
  /** Takes one use of the first matching fault; a matching fault still counting down `after` lets the call pass it. */
  take(agreement: string | undefined, paths: string[]): FaultSpec | undefined {
    const i = this.faults.findIndex((f) => {
      const matches =
        f.times > 0 &&
        (f.agreement === undefined || f.agreement === agreement) &&
        (f.path === undefined ||
          paths.some((p) => (typeof f.path === 'string' ? p.startsWith(f.path) : (f.path as RegExp).test(p))));
      if (!matches || !f.after) return matches;
      f.after -= 1;
      return false;
    });
    if (i < 0) return undefined;
    const f = this.faults[i];
    if (!f) return undefined;
    f.times -= 1;
    if (f.times <= 0) this.faults.splice(i, 1);
    return f;
  }
}

export interface CallLogEntry {
  time: number;
  /** Grant token of the call (the fake is a test double: it may hold tokens). */
  agreement?: string;
  method: string;
  path: string;
  query: string;
  endpoint: string;
  /** 0 when no status was sent (hang, reset). */
  status: number;
  fault?: FaultKind;
  /** Refused by the rate limit (429), as opposed to an injected fault. */
  rateLimited?: true;
}

export interface CallCounts {
  total: number;
  byEndpoint: Record<string, number>;
}

/**
 * How many of one grant token's calls were in flight at once, seen from e-conomic's side: each call from
 * its request's arrival to its answer (latency included). `meanInFlight` is the calls' summed time over
 * the span from the first arrival to the last answer: a load that kept N calls in flight the whole span
 * reads N.
 */
export interface CallConcurrency {
  calls: number;
  peak: number;
  meanInFlight: number;
  spanMs: number;
}

export interface FakeEconomicOptions {
  appSecretToken?: string;
  /** Where the fake's clock starts; `'wall'`: it follows the real clock (FakeClock). */
  clockStart?: Date | string;
  /** Keep per-call log entries (counters are kept regardless). Default true. */
  logCalls?: boolean;
  /**
   * The IANA zone whose wall clock the Projects API writes its zone-less `lastUpdated` in, and reads filter
   * literals in. Default `UTC` (the client's reading); `Europe/Copenhagen` plays the reading e-conomic leaves open.
   */
  projectsTimeZone?: string;
  /** Items per page of `GET /Projects` (e-conomic decides it, at most 1,000). Default 1,000. */
  projectsPageSize?: number;
  /** A rate limit every agreement gets, each with its own budget. Off by default. */
  rateLimit?: RateLimitSpec;
  /** Delay before every answer. Off by default. */
  latency?: LatencySpec;
}

export interface FakeEconomic {
  readonly restUrl: string;
  readonly projectsUrl: string;
  readonly appSecretToken: string;
  readonly clock: FakeClock;
  readonly faults: FaultInjector;
  readonly callLog: CallLogEntry[];
  addAgreement(o: AddAgreementOptions): FakeAgreement;
  agreement(grantToken: string): FakeAgreement | undefined;
  /**
   * Another grant token of an existing agreement (the customer re-installed our app): same data, same
   * agreement number, its own revocation and call counts.
   */
  addGrantToken(existingToken: string, newToken: string): FakeAgreement;
  revokeGrant(grantToken: string): void;
  restoreGrant(grantToken: string): void;
  /** 403 (our app's role lacks access) on paths starting with `pathPrefix` for this agreement. */
  forbid(grantToken: string, pathPrefix: string): void;
  /** The agreement loses a module: every Projects API endpoint answers 403 `AccessDeniedAgreementMissingModules`. */
  withoutModule(grantToken: string, module: EconomicModule): void;
  /** The agreement gets the module (back). */
  withModule(grantToken: string, module: EconomicModule): void;
  /** Sets the rate limit: of one agreement when `grantToken` is given (`null`: none for it), else the fake-wide one. */
  setRateLimit(limit: RateLimitSpec | null | undefined, grantToken?: string): void;
  /** Sets the latency of every answer; undefined turns it off. */
  setLatency(latency: LatencySpec | undefined): void;
  calls(grantToken?: string): CallCounts;
  /** Calls of this grant token in flight at once since the last resetCalls() (answered calls only). */
  concurrency(grantToken: string): CallConcurrency;
  resetCalls(): void;
  close(): Promise<void>;
}

interface Route {
  endpoint: string;
  handle: (a: FakeAgreement, q: URLSearchParams) => unknown;
}

const COMMON_DOC_FIELDS = ['date', 'dueDate', 'currency', 'netAmount', 'grossAmount', 'customer.customerNumber'];

function fields(...names: string[]): ReadonlySet<string> {
  return new Set(names);
}

export async function startFakeEconomic(opts: FakeEconomicOptions = {}): Promise<FakeEconomic> {
  const appSecretToken = opts.appSecretToken ?? `fake-app-secret-${randomUUID()}`;
  // For the suite's no-secret-in-logs check (test/helpers/test-logs.ts).
  registerSecret('app-secret', appSecretToken);
  const clock = new FakeClock(opts.clockStart);
  const faults = new FaultInjector();
  const agreements = new Map<string, FakeAgreement>();
  const revoked = new Set<string>();
  const forbidden = new Map<string, string[]>();
  const callLog: CallLogEntry[] = [];
  const counts = new Map<string, Map<string, number>>();
  const logCalls = opts.logCalls ?? true;
  let restUrl = '';
  let projectsUrl = '';
  let nextAgreementNumber = 100001;

  const projectsTimeZone = opts.projectsTimeZone ?? 'UTC';
  // Throws on an unknown zone now rather than on the first request.
  new Intl.DateTimeFormat('en-US', { timeZone: projectsTimeZone });
  const projectsPageSize = opts.projectsPageSize ?? MAX_PROJECTS_CURSOR_PAGE;
  if (!Number.isInteger(projectsPageSize) || projectsPageSize < 1 || projectsPageSize > MAX_PROJECTS_CURSOR_PAGE) {
    throw new RangeError(`projectsPageSize must be 1 to ${MAX_PROJECTS_CURSOR_PAGE}`);
  }
  const missingModules = new Map<string, Set<EconomicModule>>();
  const limiter = new RateLimiter();
  let defaultRateLimit = opts.rateLimit === undefined ? undefined : checkRateLimit(opts.rateLimit);
  const agreementRateLimits = new Map<string, RateLimitSpec | null>();
  let latency = opts.latency === undefined ? undefined : checkLatency(opts.latency);
  const pendingAnswers = new Set<NodeJS.Timeout>();
  const meters = new Map<string, { calls: number; inFlight: number; peak: number; busyMs: number; first: number; last: number }>();

  // A Projects API filter literal must be zone-less like the values it compares with; the legacy `...Z`
  // form is refused, so a client that writes the wrong form is caught.
  const readProjectsTime: TimeReader = (text) => {
    const t = fromZoneless(text, projectsTimeZone);
    if (Number.isNaN(t)) throw new FilterError(`"${text}" is not a date-time without a time zone, as "lastUpdated" is written here`);
    return t;
  };

  // ---- paging helpers ----

  function pageParams(q: URLSearchParams): { skip: number; size: number } {
    const skip = q.has('skippages') ? Number(q.get('skippages')) : 0;
    const size = q.has('pagesize') ? Number(q.get('pagesize')) : DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(skip) || skip < 0) throw new HttpError(400, 'skippages must be a non-negative integer');
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
      throw new HttpError(400, `pagesize must be between 1 and ${MAX_PAGE_SIZE}`, { hint: `Maximum page size is ${MAX_PAGE_SIZE}`, property: 'pagesize' });
    }
    return { skip, size };
  }

  function applyFilter(
    items: Array<Record<string, unknown>>,
    filter: string | null,
    filterable: ReadonlySet<string>,
    readTime?: TimeReader,
  ): Array<Record<string, unknown>> {
    if (!filter) return items;
    try {
      return items.filter(compileFilter(filter, filterable, readTime));
    } catch (e) {
      if (e instanceof FilterError) throw new HttpError(400, 'Invalid filter.', { hint: e.message, property: 'filter' });
      throw e;
    }
  }

  function applyFilterSort(
    items: Array<Record<string, unknown>>,
    q: URLSearchParams,
    filterable: ReadonlySet<string>,
  ): Array<Record<string, unknown>> {
    let out = applyFilter(items, q.get('filter'), filterable);
    const sort = q.get('sort');
    if (sort) {
      const desc = sort.startsWith('-');
      const field = desc ? sort.slice(1) : sort;
      if (!filterable.has(field)) throw new HttpError(400, 'Invalid sort.', { hint: `The property "${field}" is not sortable`, property: 'sort' });
      out = [...out].sort((a, b) => {
        const x = a[field] as string | number;
        const y = b[field] as string | number;
        const d = x < y ? -1 : x > y ? 1 : 0;
        return desc ? -d : d;
      });
    }
    return out;
  }

  function collection(
    path: string,
    q: URLSearchParams,
    source: readonly unknown[],
    render: (rec: never) => Record<string, unknown>,
    filterable: ReadonlySet<string>,
  ): unknown {
    const { skip, size } = pageParams(q);
    const needsAll = q.has('filter') || q.has('sort');
    let results: number;
    let page: Array<Record<string, unknown>>;
    if (needsAll) {
      const all = applyFilterSort(source.map((r) => render(r as never)), q, filterable);
      results = all.length;
      page = all.slice(skip * size, skip * size + size);
    } else {
      results = source.length;
      page = source.slice(skip * size, skip * size + size).map((r) => render(r as never));
    }
    const link = (n: number) => {
      const p = new URLSearchParams({ skippages: String(n), pagesize: String(size) });
      for (const k of ['filter', 'sort']) {
        const v = q.get(k);
        if (v) p.set(k, v);
      }
      return `${restUrl}${path}?${p.toString()}`;
    };
    const last = Math.max(0, Math.ceil(results / size) - 1);
    const pagination: Record<string, unknown> = {
      maxPageSizeAllowed: MAX_PAGE_SIZE,
      skipPages: skip,
      pageSize: size,
      results,
      resultsWithoutFilter: source.length,
      firstPage: link(0),
    };
    if ((skip + 1) * size < results) pagination.nextPage = link(skip + 1);
    pagination.lastPage = link(last);
    return { collection: page, pagination, self: link(skip) };
  }

  // ---- routes ----

  const docRoutes = (
    base: string,
    kind: DocKind,
    map: (a: FakeAgreement) => NumberedMap<DocRec>,
    withLastUpdated: boolean,
    filter?: (d: DocRec) => boolean,
  ): Array<[RegExp, (m: RegExpExecArray) => Route]> => {
    const filterable = fields(DOC_KEY[kind], ...COMMON_DOC_FIELDS, ...(withLastUpdated ? ['lastUpdated'] : []), ...(kind === 'bookedInvoice' ? ['remainder'] : []));
    return [
      [
        new RegExp(`^${base}$`),
        () => ({
          endpoint: base,
          handle: (a, q) => {
            const source = filter ? map(a).list().filter(filter) : map(a).list();
            return collection(base, q, source, (d: DocRec) =>
              renderDocument(d, kind, `${base}/${d.number}`, restUrl, { withLines: false, withLastUpdated }), filterable);
          },
        }),
      ],
      [
        new RegExp(`^${base}/(\\d+)$`),
        (m) => ({
          endpoint: `${base}/{n}`,
          handle: (a) => {
            const d = map(a).get(Number(m[1]));
            if (!d || (filter && !filter(d))) throw new HttpError(404, 'Not found.');
            return renderDocument(d, kind, `${base}/${d.number}`, restUrl, { withLines: true, withLastUpdated });
          },
        }),
      ],
    ];
  };

  const restRoutes: Array<[RegExp, (m: RegExpExecArray) => Route]> = [
    [
      /^\/self$/,
      () => ({
        endpoint: '/self',
        handle: (a) => ({
          agreementNumber: a.agreementNumber,
          agreementType: { agreementTypeNumber: 1, name: 'Standard' },
          application: { appNumber: 1, appPublicToken: 'fake', name: 'economic-sync', requiredRoles: [{ roleNumber: 2, name: 'Bookkeeping' }] },
          bankInformation: {},
          company: { name: a.companyName, addressLine1: 'Testvej 1', city: 'København', zip: '1000', country: 'Danmark', companyIdentificationNumber: String(a.agreementNumber) },
          modules: [],
          settings: { baseCurrency: 'DKK', internationalLedger: false },
          signupDate: '2020-01-01',
          user: { agreementNumber: a.agreementNumber, loginId: 'fake', name: 'Fake User', email: 'fake@example.com', language: { languageNumber: 1, name: 'Danish' } },
          userName: 'Fake User',
          self: `${restUrl}/self`,
        }),
      }),
    ],
    [
      /^\/customers$/,
      () => ({
        endpoint: '/customers',
        handle: (a, q) => collection('/customers', q, a.customers.list(), (c: never) => renderCustomer(c, restUrl),
          fields('customerNumber', 'name', 'currency', 'email', 'lastUpdated', 'barred', 'city', 'zip', 'country')),
      }),
    ],
    [
      /^\/customers\/(\d+)$/,
      (m) => ({
        endpoint: '/customers/{n}',
        handle: (a) => {
          const c = a.customers.get(Number(m[1]));
          if (!c) throw new HttpError(404, 'Not found.');
          return renderCustomer(c, restUrl);
        },
      }),
    ],
    ...(['drafts', 'sent', 'archived'] as DocState[]).flatMap((s) => [
      ...docRoutes(`/orders/${s}`, 'order', (a) => a.orders[s], s !== 'archived'),
      ...docRoutes(`/quotes/${s}`, 'quote', (a) => a.quotes[s], s !== 'archived'),
    ]),
    ...docRoutes('/invoices/drafts', 'draftInvoice', (a) => a.draftInvoices, true),
    ...docRoutes('/invoices/booked', 'bookedInvoice', (a) => a.bookedInvoices, false),
    ...docRoutes('/invoices/unpaid', 'bookedInvoice', (a) => a.bookedInvoices, false, (d) => (d.remainder ?? 0) > 0),
    ...docRoutes('/invoices/paid', 'bookedInvoice', (a) => a.bookedInvoices, false, (d) => (d.remainder ?? 0) <= 0),
  ];

  const projectFields = fields('number', 'name', 'customerNumber', 'isClosed', 'isBarred', 'mainProjectNumber', 'lastUpdated');
  // Paths exactly as the Projects API's specification writes them: capitalised, so `/projects` is a 404.
  const projectRoutes: Array<[RegExp, (m: RegExpExecArray) => Route]> = [
    [
      /^\/Projects$/,
      () => ({
        endpoint: '/Projects',
        handle: (a, q) => {
          // The cursor endpoint takes no page size and no sort (those belong to /Projects/paged).
          for (const refused of ['pageSize', 'pagesize', 'skipPages', 'sort']) {
            if (q.has(refused)) throw new HttpError(400, 'One or more validation errors occurred.', { hint: `"${refused}" is not a parameter of the cursor listing`, property: refused });
          }
          let after = 0;
          const cursor = q.get('cursor');
          if (cursor) {
            after = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
            if (!Number.isSafeInteger(after) || after < 0) throw new HttpError(400, 'Invalid cursor.', { property: 'cursor' });
          }
          const all = applyFilter(a.projects.list().map((p) => renderProject(p, projectsTimeZone)), q.get('filter'), projectFields, readProjectsTime);
          const rest = all.filter((p) => (p.number as number) > after);
          const items = rest.slice(0, projectsPageSize);
          const lastItem = items[items.length - 1];
          return rest.length > projectsPageSize && lastItem
            ? { items, cursor: Buffer.from(String(lastItem.number)).toString('base64url') }
            : { items };
        },
      }),
    ],
    [
      /^\/Projects\/(\d+)$/,
      (m) => ({
        endpoint: '/Projects/{n}',
        handle: (a) => {
          const p = a.projects.get(Number(m[1]));
          if (!p) throw new HttpError(404, 'Not Found', { hint: `Project ${m[1]} was not found.` });
          return renderProject(p, projectsTimeZone);
        },
      }),
    ],
  ];

  function route(pathname: string): { route: Route | undefined; apiPath: string; endpoint: string; projectsApi: boolean } {
    const projectsApi = pathname.startsWith(`${PROJECTS_PREFIX}/`);
    const apiPath = projectsApi ? pathname.slice(PROJECTS_PREFIX.length) : pathname;
    for (const [re, make] of projectsApi ? projectRoutes : restRoutes) {
      const m = re.exec(apiPath);
      if (m) {
        const r = make(m);
        return { route: r, apiPath, endpoint: r.endpoint, projectsApi };
      }
    }
    return { route: undefined, apiPath, endpoint: apiPath, projectsApi };
  }

  // ---- request handling ----

  function count(agreement: string | undefined, endpoint: string): void {
    const key = agreement ?? '';
    let m = counts.get(key);
    if (!m) {
      m = new Map<string, number>();
      counts.set(key, m);
    }
    m.set(endpoint, (m.get(endpoint) ?? 0) + 1);
  }

  function send(res: http.ServerResponse, entry: CallLogEntry, status: number, body: unknown, headers: Record<string, string> = {}): void {
    entry.status = status;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  }

  /** An error in the answering API's own shape: problem+json from the Projects API, legacy JSON elsewhere. */
  function sendError(res: http.ServerResponse, entry: CallLogEntry, e: HttpError, projectsApi: boolean, headers: Record<string, string> = {}): void {
    if (!projectsApi) return send(res, entry, e.status, legacyErrorBody(e), headers);
    send(res, entry, e.status, problemBody(e, entry.path), { ...headers, 'Content-Type': 'application/problem+json; charset=utf-8' });
  }

  function applyFault(f: FaultSpec, req: http.IncomingMessage, res: http.ServerResponse, entry: CallLogEntry, projectsApi: boolean): void {
    entry.fault = f.kind;
    const retryAfter: Record<string, string> = f.retryAfterSeconds !== undefined ? { 'Retry-After': String(f.retryAfterSeconds) } : {};
    switch (f.kind) {
      case '429':
        sendError(res, entry, new HttpError(429, 'Too many requests. Wait a bit, see the response headers.'), projectsApi, retryAfter);
        return;
      case '404':
        // What a path e-conomic does not know answers (a listing moved or misspelt), with its error body.
        sendError(res, entry, new HttpError(404, projectsApi ? 'Not Found' : 'Not found.', { hint: `No resource at ${entry.path}` }), projectsApi);
        return;
      case '500':
        sendError(res, entry, new HttpError(500, 'An error occurred.'), projectsApi);
        return;
      case '503':
        sendError(res, entry, new HttpError(503, 'Service unavailable.'), projectsApi, retryAfter);
        return;
      case 'held': // answered by handle() when released
      case 'hang':
        return; // never answers; the socket is destroyed by the client's timeout or by close()
      case 'reset':
        req.socket.destroy();
        return;
      case 'malformed': {
        entry.status = 200;
        const text = '{"collection": [ {"customerNumber": 1, ] <html>Service error</html>';
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
        res.end(text);
        return;
      }
      case 'truncated': {
        entry.status = 200;
        const text = JSON.stringify({ collection: [], pagination: { skipPages: 0, pageSize: 20, results: 0 }, self: restUrl });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
        res.write(text.slice(0, Math.floor(text.length / 2)), () => req.socket.destroy());
        return;
      }
    }
  }

  function rateLimitOf(grant: string): RateLimitSpec | undefined {
    const own = agreementRateLimits.get(grant);
    return own === null ? undefined : (own ?? defaultRateLimit);
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const grant = headerOf(req, 'x-agreementgranttoken');
    const { route: r, apiPath, endpoint, projectsApi } = route(url.pathname);
    const entry: CallLogEntry = { time: Date.now(), method: req.method ?? 'GET', path: url.pathname, query: url.search, endpoint, status: 0 };
    if (grant !== undefined) entry.agreement = grant;
    if (logCalls) callLog.push(entry);
    count(grant, endpoint);

    const fault = faults.take(grant, [apiPath, url.pathname]);
    if (fault?.kind === 'held') {
      const go = () => (fault.thenKind ? applyFault({ ...fault, kind: fault.thenKind }, req, res, entry, projectsApi) : respond(req, res, url, grant, r, apiPath, entry, projectsApi));
      void (fault.until ?? Promise.resolve()).then(go, go);
      return;
    }
    if (fault) return applyFault(fault, req, res, entry, projectsApi);
    respond(req, res, url, grant, r, apiPath, entry, projectsApi);
  }

  function respond(req: http.IncomingMessage, res: http.ServerResponse, url: URL, grant: string | undefined, r: ReturnType<typeof route>['route'], apiPath: string, entry: CallLogEntry, projectsApi: boolean): void {
    try {
      if (headerOf(req, 'x-appsecrettoken') !== appSecretToken) throw new HttpError(401, 'Unauthorized: the app secret token is missing or invalid.');
      const agreement = grant === undefined ? undefined : agreements.get(grant);
      if (!agreement || grant === undefined || revoked.has(grant)) {
        throw new HttpError(401, 'Unauthorized: the agreement grant token is missing, invalid or revoked.');
      }
      const limit = rateLimitOf(grant);
      const waitMs = limit === undefined ? undefined : limiter.take(grant, limit);
      if (waitMs !== undefined) {
        entry.rateLimited = true;
        const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1000)));
        return sendError(res, entry, new HttpError(429, 'Too many requests. Wait a bit, see the response headers.'), projectsApi, { 'Retry-After': retryAfter });
      }
      if (projectsApi && missingModules.get(grant)?.has('Project')) {
        throw new HttpError(403, 'Missing modules: Project', {
          hint: 'The agreement does not have the module(s) this endpoint requires.',
          errorCode: MISSING_MODULES_ERROR_CODE,
        });
      }
      if ((forbidden.get(grant) ?? []).some((p) => apiPath.startsWith(p) || url.pathname.startsWith(p))) {
        throw new HttpError(403, 'Forbidden: the app does not have a role that may access this resource.');
      }
      if (req.method !== 'GET') throw new HttpError(405, `Method ${req.method ?? ''} not allowed in the fake.`);
      if (!r) throw new HttpError(404, projectsApi ? 'Not Found' : 'Not found.', { hint: `No resource at ${url.pathname}` });
      send(res, entry, 200, r.handle(agreement, url.searchParams));
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, 'An error occurred.', { hint: e instanceof Error ? e.message : String(e) });
      sendError(res, entry, err, projectsApi);
    }
  }

  /** Counts the call in flight for its grant token from now until its answer is sent or its socket closed. */
  function meter(req: http.IncomingMessage, res: http.ServerResponse): void {
    const grant = headerOf(req, 'x-agreementgranttoken') ?? '';
    const arrived = performance.now();
    const m = meters.get(grant) ?? { calls: 0, inFlight: 0, peak: 0, busyMs: 0, first: arrived, last: NaN };
    meters.set(grant, m);
    m.inFlight += 1;
    m.peak = Math.max(m.peak, m.inFlight);
    res.once('close', () => {
      const now = performance.now();
      m.inFlight -= 1;
      m.calls += 1;
      m.busyMs += now - arrived;
      m.last = now;
    });
  }

  /** Answers after the configured latency; timers still pending at close() are dropped. */
  function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    meter(req, res);
    const delay = latencyOf(latency);
    if (delay <= 0) return handle(req, res);
    const timer = setTimeout(() => {
      pendingAnswers.delete(timer);
      handle(req, res);
    }, delay);
    pendingAnswers.add(timer);
  }

  const server = http.createServer(answer);
  // Longer than any pause a test causes (seeding 100,000 documents blocks the event loop for seconds): with a
  // short timeout the server closes an idle pooled socket just as the client reuses it, an ECONNRESET that
  // is the test machine's, not e-conomic's. fetch reads the `Keep-Alive: timeout` hint and closes first.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  restUrl = `http://127.0.0.1:${port}`;
  projectsUrl = `${restUrl}${PROJECTS_PREFIX}`;

  return {
    restUrl,
    projectsUrl,
    appSecretToken,
    clock,
    faults,
    callLog,
    addAgreement(o) {
      if (agreements.has(o.grantToken)) throw new Error('agreement with that grant token exists');
      registerSecret('grant-token', o.grantToken);
      const n = o.agreementNumber ?? nextAgreementNumber++;
      const a = new FakeAgreement(clock, o.grantToken, n, o.companyName ?? `Company ${n} ApS`);
      agreements.set(o.grantToken, a);
      if (o.withoutModules?.length) missingModules.set(o.grantToken, new Set(o.withoutModules));
      if (o.rateLimit !== undefined) agreementRateLimits.set(o.grantToken, o.rateLimit === null ? null : checkRateLimit(o.rateLimit));
      return a;
    },
    agreement: (t) => agreements.get(t),
    addGrantToken(existing, token) {
      const a = agreements.get(existing);
      if (!a) throw new Error('no agreement with that grant token');
      if (agreements.has(token)) throw new Error('agreement with that grant token exists');
      registerSecret('grant-token', token);
      agreements.set(token, a);
      const missing = missingModules.get(existing);
      if (missing) missingModules.set(token, new Set(missing));
      return a;
    },
    revokeGrant: (t) => void revoked.add(t),
    restoreGrant: (t) => void revoked.delete(t),
    forbid(t, prefix) {
      forbidden.set(t, [...(forbidden.get(t) ?? []), prefix]);
    },
    withoutModule(t, module) {
      missingModules.set(t, new Set([...(missingModules.get(t) ?? []), module]));
    },
    withModule(t, module) {
      missingModules.get(t)?.delete(module);
    },
    setRateLimit(limit, t) {
      const checked = limit === null || limit === undefined ? limit : checkRateLimit(limit);
      if (t === undefined) defaultRateLimit = checked ?? undefined;
      else if (checked === undefined) agreementRateLimits.delete(t);
      else agreementRateLimits.set(t, checked);
      limiter.reset(t);
    },
    setLatency(l) {
      latency = l === undefined ? undefined : checkLatency(l);
    },
    calls(t) {
      const maps: Array<Map<string, number>> = t === undefined ? [...counts.values()] : [counts.get(t) ?? new Map<string, number>()];
      const byEndpoint: Record<string, number> = {};
      let total = 0;
      for (const m of maps) {
        for (const [k, v] of m) {
          byEndpoint[k] = (byEndpoint[k] ?? 0) + v;
          total += v;
        }
      }
      return { total, byEndpoint };
    },
    concurrency(t) {
      const m = meters.get(t);
      if (!m || m.calls === 0) return { calls: 0, peak: m?.peak ?? 0, meanInFlight: 0, spanMs: 0 };
      const spanMs = m.last - m.first;
      return { calls: m.calls, peak: m.peak, meanInFlight: spanMs > 0 ? m.busyMs / spanMs : m.calls, spanMs };
    },
    resetCalls() {
      counts.clear();
      meters.clear();
      callLog.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const timer of pendingAnswers) clearTimeout(timer);
        pendingAnswers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
