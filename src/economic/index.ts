// Public surface of the e-conomic client.
export { createEconomicClient, DEFAULT_TIMEOUT_MS } from './client';
export type { EconomicClient, EconomicClientOptions, LocatedDocument } from './client';
export { EconomicError, isEconomicError, kindForStatus, parseRetryAfter, resourceOf } from './errors';
export type { EconomicApi, EconomicErrorKind } from './errors';
export { MISSING_MODULES_ERROR_CODE } from './error-body';
export { CallCounter } from './call-counter';
export type { CallCounterEntry, CallOutcome } from './call-counter';
export type { CallGate } from './http';
export { filters, formatInstant, projectFilters } from './filter';
export type { FilterBuilder, FilterValue } from './filter';
export {
  formatProjectsTime,
  parseProjectsTime,
  projectsTimeToInstant,
  PROJECTS_TIME_MAX_SKEW_MS,
  PROJECTS_TIME_READING,
} from './projects-time';
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
