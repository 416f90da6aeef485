// The messages between the webhook, reconciliation and the per-entity sync workflow. Pure types and
// names: imported by workflows, so no I/O here. None of them ever carries a secret: the workflow gets
// the tenant's id, and activities look up (and decrypt) the grant themselves.
import type { EntityKind } from './entities';

/** Signal name of "this entity changed, sync it". */
export const CHANGE_SIGNAL = 'change';

export interface ChangeEvent {
  /** The webhook event's id (or reconciliation's), used to drop duplicates delivered twice. */
  eventId: string;
  /** The APISource of the webhook, or `reconcile`. */
  source: string;
  /** Set when e-conomic renumbered the entity from `oldNumber` to the workflow's number. */
  oldNumber?: number;
  /** ISO instant the event was received. */
  receivedAt: string;
  /** For orders and quotes: the state a listing just saw the document in (reconciliation), looked in first. */
  stateHint?: 'drafts' | 'sent' | 'archived';
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
