// Public surface of the e-conomic client.
export { createEconomicClient, DEFAULT_TIMEOUT_MS } from './client';
export type { EconomicClient, EconomicClientOptions, LocatedDocument } from './client';
export { EconomicError, isEconomicError, kindForStatus, parseRetryAfter } from './errors';
export type { EconomicErrorKind } from './errors';
export { CallCounter } from './call-counter';
export type { CallCounterEntry } from './call-counter';
export { filters, formatInstant } from './filter';
export type { FilterValue } from './filter';
export { lookupOrder, locateDocument } from './locate';
export { MAX_PAGE_SIZE } from './paging';
export { DOCUMENT_STATES } from './types';
export type {
  BookedInvoice,
  Customer,
  DocumentLine,
  DocumentState,
  EconomicSelf,
  ListOptions,
  Page,
  Project,
  ProjectListOptions,
  ProjectPage,
  SalesDocument,
} from './types';
