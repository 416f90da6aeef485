// fetchEntity: reads one entity from e-conomic as it is now. Orders and quotes are looked up in their
// last known state first (then forward in their lifecycle), so the usual case costs one call. When the
// event says the entity was renumbered, the old number is checked to be really gone before the row moves.
import { Context } from '@temporalio/activity';
import type { Database } from '../src/db/client';
import type { DocumentState, EconomicClient } from '../src/economic';
import type { EntityKind } from '../src/shared/entities';
import { readStoredEntity } from '../src/sync/commit';
import { customerRecord, dependenciesOf, documentRecord, projectRecord, STATUS_STATE, type DependencyRef, type EntityRecord } from '../src/sync/entity-record';
import type { EconomicAccess, TenantRef } from './economic-access';

export interface FetchEntityInput extends TenantRef {
  kind: EntityKind;
  number: number;
  /** From a renumbering event: the number the entity had before. */
  oldNumber?: number;
  /** Orders and quotes: the state to look in first (from a listing); else the last stored state. */
  stateHint?: DocumentState;
}

export type FetchEntityResult =
  | { found: true; record: EntityRecord; dependencies: DependencyRef[]; renumberedFrom?: number }
  | { found: false; fetchedAt: string };

/** Reads the entity's current version; null when e-conomic no longer has it anywhere. */
export async function readEntity(
  client: EconomicClient,
  db: Database,
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
      const stored = stateHint ? undefined : await readStoredEntity(db, tenantId, kind, number);
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

export function createFetchEntityActivity(deps: { db: Database; access: EconomicAccess }) {
  return {
    async fetchEntity(input: FetchEntityInput): Promise<FetchEntityResult> {
      // The fetch's start orders versions that carry no lastUpdated: a slow fetch is not "newer".
      const fetchedAt = new Date().toISOString();
      const session = await deps.access.open(input, Context.current().cancellationSignal);
      return session.run(async (client) => {
        const record = await readEntity(client, deps.db, input.tenantId, input.kind, input.number, fetchedAt, input.stateHint);
        if (!record) return { found: false, fetchedAt };
        const result: FetchEntityResult = { found: true, record, dependencies: dependenciesOf(record) };
        if (input.oldNumber !== undefined && input.oldNumber !== input.number) {
          const old = await readEntity(client, deps.db, input.tenantId, input.kind, input.oldNumber, fetchedAt);
          if (!old) result.renumberedFrom = input.oldNumber;
        }
        return result;
      });
    },
  };
}
