// The fake e-conomic used by tests and benchmarks.
export {
  startFakeEconomic,
  FakeAgreement,
  FaultInjector,
  PROJECTS_PREFIX,
  MAX_PAGE_SIZE,
  DEFAULT_PAGE_SIZE,
  MAX_PROJECTS_CURSOR_PAGE,
} from './server';
export type {
  FakeEconomic,
  FakeEconomicOptions,
  AddAgreementOptions,
  EconomicModule,
  FaultKind,
  FaultSpec,
  CallLogEntry,
  CallCounts,
  CallConcurrency,
} from './server';
export type { LatencySpec, RateLimitSpec } from './throttle';
export { MISSING_MODULES_ERROR_CODE } from './http-error';
export { toZoneless, fromZoneless } from './zone-less';
export { FakeClock, FakeAgreementStore, NumberedMap, VAT_RATE, DOC_STATES } from './store';
export type { DocState, DocumentInput, LineInput, CustomerRec, ProjectRec, DocRec } from './store';
export { seedAgreement } from './seed';
export type { SeedOptions, SeedResult } from './seed';
export { emitWebhooks, substitute, encodeBody, shuffledIndices } from './webhook-emitter';
export type { EmitWebhooksOptions, EmitWebhooksResult, WebhookRecord, WebhookResult } from './webhook-emitter';
