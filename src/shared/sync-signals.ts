// The public names and messages of the per-entity sync workflow (docs/temporal.md): its type name, its
// signal and query, its input and result, and the change that webhooks, the inbox relay, reconciliation
// and `retry-failed` send it. Pure: imported by workflows, so no I/O here. None of them ever carries a
// secret: the workflow gets the tenant's id, and activities look up (and decrypt) the grant themselves.
import { entityWorkflowId, type ApiSource, type EntityKind } from './entities';

/** The workflow type clients start and signal by name (the function exported by workflows/index.ts). */
export const ENTITY_SYNC_WORKFLOW_TYPE = 'entitySyncWorkflow';

/** Signal name of "this entity changed, sync it". */
export const CHANGE_SIGNAL = 'change';

/** Query name of the workflow's live status (pending events, syncs so far). */
export const SYNC_STATUS_QUERY = 'status';

export type DocumentStateHint = 'drafts' | 'sent' | 'archived';

/**
 * What sends a change besides a webhook: reconciliation, the CLI's `retry-failed`, a tenant's grant that
 * works again (`grant-healed`: the syncs it refused) and projects e-conomic lets the agreement read again
 * (`kind-readable`: the documents committed without theirs).
 */
export const INTERNAL_SOURCES = ['reconcile', 'retry-failed', 'grant-healed', 'kind-readable'] as const;
export type InternalSource = (typeof INTERNAL_SOURCES)[number];

/** What sent a change: the webhook's APISource, or one of INTERNAL_SOURCES (the EconomicTrigger search attribute). */
export type EventSource = ApiSource | InternalSource;

export function isInternalSource(value: unknown): value is InternalSource {
  return (INTERNAL_SOURCES as readonly unknown[]).includes(value);
}

export interface ChangeEvent {
  /** The webhook event's id (or reconciliation's), used to drop duplicates delivered twice. */
  eventId: string;
  /** What sent it. A history recorded by an older version may hold another value. */
  source: EventSource;
  /** Set when e-conomic renumbered the entity from `oldNumber` to the workflow's number. */
  oldNumber?: number;
  /** ISO instant the event was received. */
  receivedAt: string;
  /** For orders and quotes: the state a listing just saw the document in (reconciliation), looked in first. */
  stateHint?: DocumentStateHint;
  /**
   * Reconciliation: the workflow id of the reconcile run that sent this event. When the sync that covers
   * the event ends (any outcome), the entity workflow signals it `entityDone`, so the run awaits
   * entities in its own workflow, holding no worker slot.
   */
  replyTo?: string;
}

/** One entity of one tenant. */
export interface EntityRef {
  tenantId: number;
  tenant: string;
  kind: EntityKind;
  number: number;
}

/** A change on its way to its entity's workflow: the entity, the workflow's id and the event. */
export interface EntityChange extends EntityRef {
  workflowId: string;
  event: ChangeEvent;
}

export interface ChangeEventFields {
  eventId: string;
  source: EventSource;
  receivedAt: Date | string;
  oldNumber?: number | null;
  stateHint?: DocumentStateHint;
  replyTo?: string;
}

/**
 * Builds a change: the one place where an entity's workflow id and its change event are made, for the
 * webhook, the inbox relay, reconciliation and the CLI alike.
 */
export function entityChange(ref: EntityRef, fields: ChangeEventFields): EntityChange {
  const event: ChangeEvent = { eventId: fields.eventId, source: fields.source, receivedAt: new Date(fields.receivedAt).toISOString() };
  if (fields.oldNumber !== undefined && fields.oldNumber !== null) event.oldNumber = fields.oldNumber;
  if (fields.stateHint !== undefined) event.stateHint = fields.stateHint;
  if (fields.replyTo !== undefined) event.replyTo = fields.replyTo;
  const { tenantId, tenant, kind, number } = ref;
  return { tenantId, tenant, kind, number, workflowId: entityWorkflowId(tenant, kind, number), event };
}

export interface EntitySyncInput {
  tenantId: number;
  tenant: string;
  kind: EntityKind;
  number: number;
  /** Syncs one run performs before continuing as new, keeping each history small (default 100). */
  maxSyncsPerRun?: number;
  /** Carried over by continue-as-new: events not yet synced, and ids already seen. */
  pending?: ChangeEvent[];
  seenEventIds?: string[];
}

/**
 * What one sync did: `synced` (written), `stale` (a newer version was stored), `deleted`, `absent` (never
 * stored, gone), `skipped` (e-conomic answers 403 for this kind: nothing called, docs/webhook.md),
 * `covered` (every event was a webhook's that arrived before the stored version was fetched: nothing
 * called, docs/temporal.md "Webhooks a fetch already covered").
 */
export type SyncOutcome = 'synced' | 'stale' | 'deleted' | 'absent' | 'skipped' | 'covered';

export interface EntitySyncStatus {
  pending: number;
  syncs: number;
  events: number;
  lastOutcome?: string;
}

export interface EntitySyncResult {
  syncs: number;
  events: number;
  lastOutcome: string;
}
