// Shapes of the e-conomic resources the sync reads. Parsing is tolerant: unknown fields are kept (index
// signatures), booleans are absent when false, references are optional. Only the key fields are checked,
// and a project's zone-less `lastUpdated` is turned into an instant here, once (see projects-time.ts).

import { projectsTimeToInstant } from './projects-time';

export type Json = Record<string, unknown>;

export interface EconomicSelf {
  agreementNumber: number;
  company: { name: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface Customer {
  customerNumber: number;
  name: string;
  currency: string;
  email?: string;
  lastUpdated?: string;
  self?: string;
  [key: string]: unknown;
}

/**
 * A project as the Projects API returns it (docs/economic-api.md), except `lastUpdated`: e-conomic sends it
 * without a zone; parseProject replaces it with an ISO instant ending in `Z` (read as UTC), so no reader can
 * let the host's time zone decide it.
 */
export interface Project {
  number: number;
  name: string;
  customerNumber?: number | null;
  isClosed?: boolean;
  isBarred?: boolean;
  mainProjectNumber?: number | null;
  lastUpdated?: string | null;
  objectVersion?: string | null;
  [key: string]: unknown;
}

export interface DocumentLine {
  lineNumber: number;
  sortKey?: number;
  description?: string;
  product?: { productNumber: string; [key: string]: unknown };
  unit?: { unitNumber: number; name?: string; [key: string]: unknown };
  quantity?: number;
  unitNetPrice?: number;
  discountPercentage?: number;
  totalNetAmount?: number;
  [key: string]: unknown;
}

export interface SalesDocument {
  date: string;
  dueDate?: string;
  currency: string;
  exchangeRate?: number;
  netAmount: number;
  grossAmount: number;
  vatAmount?: number;
  customer: { customerNumber: number; [key: string]: unknown };
  project?: { projectNumber: number; [key: string]: unknown };
  lines?: DocumentLine[];
  lastUpdated?: string;
  orderNumber?: number;
  quoteNumber?: number;
  draftInvoiceNumber?: number;
  bookedInvoiceNumber?: number;
  self?: string;
  [key: string]: unknown;
}

export interface BookedInvoice extends SalesDocument {
  bookedInvoiceNumber: number;
  remainder: number;
}

export type DocumentState = 'drafts' | 'sent' | 'archived';
export const DOCUMENT_STATES: readonly DocumentState[] = ['drafts', 'sent', 'archived'];

/** One page of a legacy REST collection, with the position needed to resume. */
export interface Page<T> {
  items: T[];
  /** The `skippages` this page was fetched with. */
  skipPages: number;
  pageSize: number;
  /** Total matching results as reported by e-conomic. */
  results: number;
  /** The `skipPages` of the next page; absent on the last page. */
  nextSkipPages?: number;
}

export interface ListOptions {
  filter?: string;
  /** Default 1000 (e-conomic's maximum). */
  pageSize?: number;
  /** Resume point: pages to skip. */
  skipPages?: number;
  sort?: string;
}

/** The cursor endpoint takes no page size and no sort: e-conomic decides both (docs/economic-api.md). */
export interface ProjectListOptions {
  /** Resume point: the `cursor` of an earlier page. */
  cursor?: string;
  /** Build with `projectFilters`: the Projects API's timestamps are zone-less. */
  filter?: string;
}

export interface ProjectPage {
  items: Project[];
  /** Cursor of the next page; absent on the last page. */
  cursor?: string;
}

/** Thrown by parsers; the HTTP layer turns it into a transient EconomicError. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireNumber(o: Json, key: string, what: string): void {
  if (typeof o[key] !== 'number') throw new ShapeError(`${what}: "${key}" is not a number`);
}

function requireObject(v: unknown, what: string): Json {
  if (!isObject(v)) throw new ShapeError(`${what}: not a JSON object`);
  return v;
}

export function parseSelf(v: unknown): EconomicSelf {
  const o = requireObject(v, 'self');
  requireNumber(o, 'agreementNumber', 'self');
  if (!isObject(o.company)) throw new ShapeError('self: "company" missing');
  return o as EconomicSelf;
}

export function parseCustomer(v: unknown): Customer {
  const o = requireObject(v, 'customer');
  requireNumber(o, 'customerNumber', 'customer');
  return o as Customer;
}

export function parseProject(v: unknown): Project {
  const o = requireObject(v, 'project');
  requireNumber(o, 'number', 'project');
  if (o.lastUpdated === undefined || o.lastUpdated === null) return o as Project;
  if (typeof o.lastUpdated !== 'string') throw new ShapeError('project: "lastUpdated" is not a string');
  try {
    return { ...o, lastUpdated: projectsTimeToInstant(o.lastUpdated) } as Project;
  } catch (e) {
    throw new ShapeError(`project: ${e instanceof Error ? e.message : 'bad "lastUpdated"'}`);
  }
}

export type DocumentKey = 'orderNumber' | 'quoteNumber' | 'draftInvoiceNumber' | 'bookedInvoiceNumber';

export function parseSalesDocument(v: unknown, key: DocumentKey): SalesDocument {
  const o = requireObject(v, 'document');
  requireNumber(o, key, 'document');
  const customer = o.customer;
  if (!isObject(customer) || typeof customer.customerNumber !== 'number') {
    throw new ShapeError('document: "customer.customerNumber" missing');
  }
  if (o.lines !== undefined && !Array.isArray(o.lines)) throw new ShapeError('document: "lines" is not an array');
  return o as SalesDocument;
}

export function parseBookedInvoice(v: unknown): BookedInvoice {
  const doc = parseSalesDocument(v, 'bookedInvoiceNumber');
  if (typeof doc.remainder !== 'number') throw new ShapeError('booked invoice: "remainder" is not a number');
  return doc as BookedInvoice;
}

export interface RawCollection {
  collection: unknown[];
  pagination: { skipPages?: number; pageSize?: number; results?: number; nextPage?: string; [key: string]: unknown };
}

export function parseCollection(v: unknown): RawCollection {
  const o = requireObject(v, 'collection page');
  if (!Array.isArray(o.collection)) throw new ShapeError('collection page: "collection" is not an array');
  if (!isObject(o.pagination)) throw new ShapeError('collection page: "pagination" missing');
  return o as unknown as RawCollection;
}

export function parseProjectPage(v: unknown): ProjectPage {
  const o = requireObject(v, 'projects page');
  if (!Array.isArray(o.items)) throw new ShapeError('projects page: "items" is not an array');
  const items = o.items.map(parseProject);
  const cursor = typeof o.cursor === 'string' && o.cursor !== '' ? o.cursor : undefined;
  return cursor === undefined ? { items } : { items, cursor };
}
