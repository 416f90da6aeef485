// A fake e-conomic on a real node:http server: legacy REST and Projects API, per-agreement data, auth,
// paging and filtering like e-conomic, fault injection and call counting.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

import { registerSecret } from '../helpers/test-logs';
import { compileFilter, FilterError } from './filter';
import { DOC_KEY, renderCustomer, renderDocument, renderProject } from './render';
import type { DocKind } from './render';
import { FakeAgreementStore, FakeClock } from './store';
import type { DocRec, DocState, NumberedMap } from './store';

export const PROJECTS_PREFIX = '/projectsapi/v1';
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 20;

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
}

export type FaultKind = '429' | '500' | '503' | 'hang' | 'reset' | 'malformed' | 'truncated';

export interface FaultSpec {
  /** Grant token the fault applies to; all agreements when absent. */
  agreement?: string;
  /** Path prefix (API-relative like `/orders/drafts` or full like `/projectsapi/v1/projects`) or RegExp. */
  path?: string | RegExp;
  times: number;
  kind: FaultKind;
  retryAfterSeconds?: number;
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
  /** Takes one use of the first matching fault. */
  take(agreement: string | undefined, paths: string[]): FaultSpec | undefined {
    const i = this.faults.findIndex(
      (f) =>
        f.times > 0 &&
        (f.agreement === undefined || f.agreement === agreement) &&
        (f.path === undefined ||
          paths.some((p) => (typeof f.path === 'string' ? p.startsWith(f.path) : (f.path as RegExp).test(p)))),
    );
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
}

export interface CallCounts {
  total: number;
  byEndpoint: Record<string, number>;
}

export interface FakeEconomicOptions {
  appSecretToken?: string;
  clockStart?: Date | string;
  /** Keep per-call log entries (counters are kept regardless). Default true. */
  logCalls?: boolean;
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
  revokeGrant(grantToken: string): void;
  restoreGrant(grantToken: string): void;
  forbid(grantToken: string, pathPrefix: string): void;
  calls(grantToken?: string): CallCounts;
  resetCalls(): void;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly developerHint?: string,
    readonly errors?: Record<string, unknown>,
  ) {
    super(message);
  }
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

  const errorBody = (status: number, message: string, developerHint?: string, errors?: Record<string, unknown>) => ({
    message,
    errorCode: `E${status}00`,
    developerHint: developerHint ?? message,
    logId: randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase(),
    httpStatusCode: status,
    logTime: new Date().toISOString(),
    ...(errors ? { errors } : {}),
  });

  // ---- paging helpers ----

  function pageParams(q: URLSearchParams): { skip: number; size: number } {
    const skip = q.has('skippages') ? Number(q.get('skippages')) : 0;
    const size = q.has('pagesize') ? Number(q.get('pagesize')) : DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(skip) || skip < 0) throw new HttpError(400, 'skippages must be a non-negative integer');
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
      throw new HttpError(400, `pagesize must be between 1 and ${MAX_PAGE_SIZE}`, undefined, {
        pagesize: { errors: [{ propertyName: 'pagesize', errorMessage: `Maximum page size is ${MAX_PAGE_SIZE}` }] },
      });
    }
    return { skip, size };
  }

  function applyFilterSort(
    items: Array<Record<string, unknown>>,
    q: URLSearchParams,
    filterable: ReadonlySet<string>,
  ): Array<Record<string, unknown>> {
    let out = items;
    const filter = q.get('filter');
    if (filter) {
      let pred;
      try {
        pred = compileFilter(filter, filterable);
        out = out.filter(pred);
      } catch (e) {
        if (e instanceof FilterError) {
          throw new HttpError(400, 'Invalid filter.', e.message, { filter: { errors: [{ propertyName: 'filter', errorMessage: e.message }] } });
        }
        throw e;
      }
    }
    const sort = q.get('sort');
    if (sort) {
      const desc = sort.startsWith('-');
      const field = desc ? sort.slice(1) : sort;
      if (!filterable.has(field)) throw new HttpError(400, 'Invalid sort.', `The property "${field}" is not sortable`);
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
              renderDocument(d, kind, `${base}/${d.number}`, restUrl, projectsUrl, { withLines: false, withLastUpdated }), filterable);
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
            return renderDocument(d, kind, `${base}/${d.number}`, restUrl, projectsUrl, { withLines: true, withLastUpdated });
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
  const projectRoutes: Array<[RegExp, (m: RegExpExecArray) => Route]> = [
    [
      /^\/projects$/,
      () => ({
        endpoint: '/projects',
        handle: (a, q) => {
          const size = q.has('pageSize') ? Number(q.get('pageSize')) : MAX_PAGE_SIZE;
          if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw new HttpError(400, `pageSize must be between 1 and ${MAX_PAGE_SIZE}`);
          let after = 0;
          const cursor = q.get('cursor');
          if (cursor) {
            after = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
            if (!Number.isInteger(after)) throw new HttpError(400, 'Invalid cursor.');
          }
          let all = a.projects.list().map((p) => renderProject(p, projectsUrl));
          all = applyFilterSort(all, new URLSearchParams(q.get('filter') ? { filter: q.get('filter') ?? '' } : {}), projectFields);
          const rest = all.filter((p) => (p.number as number) > after);
          const items = rest.slice(0, size);
          const lastItem = items[items.length - 1];
          return rest.length > size && lastItem
            ? { items, cursor: Buffer.from(String(lastItem.number)).toString('base64url') }
            : { items };
        },
      }),
    ],
    [
      /^\/projects\/(\d+)$/,
      (m) => ({
        endpoint: '/projects/{n}',
        handle: (a) => {
          const p = a.projects.get(Number(m[1]));
          if (!p) throw new HttpError(404, 'Not found.');
          return renderProject(p, projectsUrl);
        },
      }),
    ],
  ];

  function route(pathname: string): { route: Route | undefined; apiPath: string; endpoint: string } {
    const isProjects = pathname.startsWith(`${PROJECTS_PREFIX}/`);
    const apiPath = isProjects ? pathname.slice(PROJECTS_PREFIX.length) : pathname;
    for (const [re, make] of isProjects ? projectRoutes : restRoutes) {
      const m = re.exec(apiPath);
      if (m) {
        const r = make(m);
        return { route: r, apiPath, endpoint: r.endpoint };
      }
    }
    return { route: undefined, apiPath, endpoint: apiPath };
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

  function applyFault(f: FaultSpec, req: http.IncomingMessage, res: http.ServerResponse, entry: CallLogEntry): void {
    entry.fault = f.kind;
    switch (f.kind) {
      case '429':
        send(res, entry, 429, errorBody(429, 'Too many requests. Wait a bit, see the response headers.'),
          f.retryAfterSeconds !== undefined ? { 'Retry-After': String(f.retryAfterSeconds) } : {});
        return;
      case '500':
        send(res, entry, 500, errorBody(500, 'An error occurred.'));
        return;
      case '503':
        send(res, entry, 503, errorBody(503, 'Service unavailable.'),
          f.retryAfterSeconds !== undefined ? { 'Retry-After': String(f.retryAfterSeconds) } : {});
        return;
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

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const grant = headerOf(req, 'x-agreementgranttoken');
    const { route: r, apiPath, endpoint } = route(url.pathname);
    const entry: CallLogEntry = { time: Date.now(), method: req.method ?? 'GET', path: url.pathname, query: url.search, endpoint, status: 0 };
    if (grant !== undefined) entry.agreement = grant;
    if (logCalls) callLog.push(entry);
    count(grant, endpoint);

    const fault = faults.take(grant, [apiPath, url.pathname]);
    if (fault) return applyFault(fault, req, res, entry);

    try {
      if (headerOf(req, 'x-appsecrettoken') !== appSecretToken) throw new HttpError(401, 'Unauthorized: the app secret token is missing or invalid.');
      const agreement = grant === undefined ? undefined : agreements.get(grant);
      if (!agreement || grant === undefined || revoked.has(grant)) {
        throw new HttpError(401, 'Unauthorized: the agreement grant token is missing, invalid or revoked.');
      }
      if ((forbidden.get(grant) ?? []).some((p) => apiPath.startsWith(p) || url.pathname.startsWith(p))) {
        throw new HttpError(403, 'Forbidden: the app does not have a role that may access this resource.');
      }
      if (req.method !== 'GET') throw new HttpError(405, `Method ${req.method ?? ''} not allowed in the fake.`);
      if (!r) throw new HttpError(404, 'Not found.', `No resource at ${url.pathname}`);
      send(res, entry, 200, r.handle(agreement, url.searchParams));
    } catch (e) {
      if (e instanceof HttpError) send(res, entry, e.status, errorBody(e.status, e.message, e.developerHint, e.errors));
      else send(res, entry, 500, errorBody(500, 'An error occurred.', e instanceof Error ? e.message : String(e)));
    }
  }

  const server = http.createServer(handle);
  server.keepAliveTimeout = 5_000;
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
      return a;
    },
    agreement: (t) => agreements.get(t),
    revokeGrant: (t) => void revoked.add(t),
    restoreGrant: (t) => void revoked.delete(t),
    forbid(t, prefix) {
      forbidden.set(t, [...(forbidden.get(t) ?? []), prefix]);
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
    resetCalls() {
      counts.clear();
      callLog.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
