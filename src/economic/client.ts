// The e-conomic client: read-only access to the legacy REST API and the Projects API for one agreement.
// Paths are written as docs/economic-api.md gives them: lower-case for the REST, capitalised
// (`/Projects`, `/Projects/{number}`) for the Projects API.

import type { CallCounter } from './call-counter';
import { EconomicError } from './errors';
import type { EconomicApi } from './errors';
import { EconomicHttp, type CallGate } from './http';
import { locateDocument } from './locate';
import { cursorPaged, skipPaged } from './paging';
import {
  parseBookedInvoice,
  parseCustomer,
  parseProject,
  parseSalesDocument,
  parseSelf,
} from './types';
import type {
  BookedInvoice,
  Customer,
  DocumentKey,
  DocumentState,
  EconomicSelf,
  ListOptions,
  Page,
  Project,
  ProjectListOptions,
  ProjectPage,
  SalesDocument,
} from './types';

export type { DocumentState } from './types';

export interface EconomicClientOptions {
  restUrl: string;
  projectsUrl: string;
  appSecretToken: string;
  grantToken: string;
  /** Per-request timeout; default 30000. */
  timeoutMs?: number;
  signal?: AbortSignal;
  counter?: CallCounter;
  /** Label calls are counted under, e.g. the tenant name; never the token. Default `default`. */
  agreementKey?: string;
  /** The agreement's shared call budget and 429 pause, asked before every call (./http.ts). */
  gate?: CallGate;
}

export interface LocatedDocument {
  state: DocumentState;
  document: SalesDocument;
}

export interface EconomicClient {
  getSelf(): Promise<EconomicSelf>;
  getCustomer(n: number): Promise<Customer | null>;
  getProject(n: number): Promise<Project | null>;
  getOrder(state: DocumentState, n: number): Promise<SalesDocument | null>;
  getQuote(state: DocumentState, n: number): Promise<SalesDocument | null>;
  getDraftInvoice(n: number): Promise<SalesDocument | null>;
  getBookedInvoice(n: number): Promise<BookedInvoice | null>;
  locateOrder(n: number, hint?: DocumentState): Promise<LocatedDocument | null>;
  locateQuote(n: number, hint?: DocumentState): Promise<LocatedDocument | null>;
  customers(opts?: ListOptions): AsyncIterable<Page<Customer>>;
  orders(state: DocumentState, opts?: ListOptions): AsyncIterable<Page<SalesDocument>>;
  quotes(state: DocumentState, opts?: ListOptions): AsyncIterable<Page<SalesDocument>>;
  draftInvoices(opts?: ListOptions): AsyncIterable<Page<SalesDocument>>;
  bookedInvoices(opts?: ListOptions): AsyncIterable<Page<BookedInvoice>>;
  unpaidInvoices(opts?: ListOptions): AsyncIterable<Page<BookedInvoice>>;
  projects(opts?: ProjectListOptions): AsyncIterable<ProjectPage>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** The Projects API's collection, capitalised as its specification writes it. */
const PROJECTS_PATH = '/Projects';

function trimBase(url: string): string {
  return url.replace(/\/+$/, '');
}

function checkNumber(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError('entity number must be a positive integer');
}

export function createEconomicClient(o: EconomicClientOptions): EconomicClient {
  const rest = trimBase(o.restUrl);
  const projectsBase = trimBase(o.projectsUrl);
  const http = new EconomicHttp({
    appSecretToken: o.appSecretToken,
    grantToken: o.grantToken,
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    agreementKey: o.agreementKey ?? 'default',
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.counter ? { counter: o.counter } : {}),
    ...(o.gate ? { gate: o.gate } : {}),
  });

  const getOne = async <T>(api: EconomicApi, collection: string, n: number, parse: (v: unknown) => T): Promise<T | null> => {
    checkNumber(n);
    const base = api === 'projects' ? projectsBase : rest;
    return http.get({ api, base, path: `${collection}/${n}`, endpoint: `${collection}/{n}`, parse });
  };
  const docParser = (key: DocumentKey) => (v: unknown) => parseSalesDocument(v, key);

  const getOrder = (state: DocumentState, n: number) => getOne('rest', `/orders/${state}`, n, docParser('orderNumber'));
  const getQuote = (state: DocumentState, n: number) => getOne('rest', `/quotes/${state}`, n, docParser('quoteNumber'));

  return {
    async getSelf() {
      const self = await http.get({ api: 'rest', base: rest, path: '/self', endpoint: '/self', parse: parseSelf });
      if (self === null) {
        throw new EconomicError({ kind: 'bad_request', status: 404, endpoint: '/self', message: 'e-conomic GET /self: HTTP 404 (wrong REST base URL?)' });
      }
      return self;
    },
    getCustomer: (n) => getOne('rest', '/customers', n, parseCustomer),
    getProject: (n) => getOne('projects', PROJECTS_PATH, n, parseProject),
    getOrder,
    getQuote,
    getDraftInvoice: (n) => getOne('rest', '/invoices/drafts', n, docParser('draftInvoiceNumber')),
    getBookedInvoice: (n) => getOne('rest', '/invoices/booked', n, parseBookedInvoice),
    locateOrder: (n, hint) => locateDocument(getOrder, n, hint),
    locateQuote: (n, hint) => locateDocument(getQuote, n, hint),
    customers: (opts) => skipPaged(http, rest, '/customers', opts, parseCustomer),
    orders: (state, opts) => skipPaged(http, rest, `/orders/${state}`, opts, docParser('orderNumber')),
    quotes: (state, opts) => skipPaged(http, rest, `/quotes/${state}`, opts, docParser('quoteNumber')),
    draftInvoices: (opts) => skipPaged(http, rest, '/invoices/drafts', opts, docParser('draftInvoiceNumber')),
    bookedInvoices: (opts) => skipPaged(http, rest, '/invoices/booked', opts, parseBookedInvoice),
    unpaidInvoices: (opts) => skipPaged(http, rest, '/invoices/unpaid', opts, parseBookedInvoice),
    projects: (opts) => cursorPaged(http, projectsBase, PROJECTS_PATH, opts),
  };
}
