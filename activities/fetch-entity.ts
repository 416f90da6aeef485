// Reads one entity from e-conomic as it is now. Orders and quotes are looked up in their last known state
// first (then forward in their lifecycle), so the usual case costs one call. When the event says the
// entity was renumbered, the old number is checked to be really gone before the row moves.
import type { DocumentState, EconomicClient } from '../src/economic';
import type { EntityKind } from '../src/shared/entities';
import type { EntityStore } from '../src/store/entity-store';
import { customerRecord, documentRecord, projectRecord, STATUS_STATE, type EntityRecord } from '../src/sync/entity-record';

/** Reads the entity's current version; null when e-conomic no longer has it anywhere. */
export async function readEntity(
  client: EconomicClient,
  store: Pick<EntityStore, 'find'>,
  tenantId: number,
  kind: EntityKind,
  number: number,
  fetchedAt: string,
  stateHint?: DocumentState,
): Promise<EntityRecord | null> {
  switch (kind) {
    case 'customer': {
      const customer = await client.getCustomer(number);
      return customer && customerRecord(customer, fetchedAt);
    }
    case 'project': {
      const project = await client.getProject(number);
      return project && projectRecord(project, fetchedAt);
    }
    case 'order':
    case 'quote': {
      const stored = stateHint ? undefined : await store.find(tenantId, kind, number);
      const hint = stateHint ?? (stored?.status ? STATUS_STATE[stored.status] : undefined);
      const located = kind === 'order' ? await client.locateOrder(number, hint) : await client.locateQuote(number, hint);
      return located && documentRecord(kind, number, located.document, fetchedAt, located.state);
    }
    case 'draft-invoice': {
      const draft = await client.getDraftInvoice(number);
      return draft && documentRecord(kind, number, draft, fetchedAt);
    }
    case 'booked-invoice': {
      const booked = await client.getBookedInvoice(number);
      return booked && documentRecord(kind, number, booked, fetchedAt);
    }
  }
}

export interface FetchedEntity {
  /** Null when e-conomic no longer has the entity. */
  record: EntityRecord | null;
  /** Set when the event said the entity was renumbered and the old number is gone in e-conomic. */
  renumberedFrom?: number;
}

/** The entity as e-conomic has it now, and whether a renumbering from `oldNumber` really happened. */
export async function fetchEntity(
  client: EconomicClient,
  store: Pick<EntityStore, 'find'>,
  input: { tenantId: number; kind: EntityKind; number: number; oldNumber?: number; stateHint?: DocumentState },
  fetchedAt: string,
): Promise<FetchedEntity> {
  const record = await readEntity(client, store, input.tenantId, input.kind, input.number, fetchedAt, input.stateHint);
  if (!record) return { record: null };
  if (input.oldNumber === undefined || input.oldNumber === input.number) return { record };
  const old = await readEntity(client, store, input.tenantId, input.kind, input.oldNumber, fetchedAt);
  return old ? { record } : { record, renumberedFrom: input.oldNumber };
}
