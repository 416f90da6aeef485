// One descriptor per entity kind: its table, its number column, the document type its lines are kept
// under, and its own column values from a record. The entity store (./entity-store.ts) does everything
// else the same way for every kind, so adding a kind adds one entry here (docs/architecture.md).
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import * as schema from '../db/schema';
import type { DocumentType } from '../db/schema';
import type { EntityKind } from '../shared/entities';
import type { EntityRecord } from '../sync/entity-record';

/** The columns every entity table has (syncedColumns() in src/db/schema.ts). */
export type EntityTable = PgTable & { tenantId: PgColumn; lastUpdated: PgColumn; syncedAt: PgColumn; deletedAt: PgColumn; data: PgColumn };

export interface EntityKindDescriptor {
  table: EntityTable;
  /** The entity's number column, and its property name (renumbering sets it by name). */
  number: PgColumn;
  numberKey: string;
  /** Sales documents: their lines live in economic_document_lines under this type. */
  documentType?: DocumentType;
  /** Orders and quotes: the status column (draft, sent, archived). */
  status?: PgColumn;
  /** Booked invoices: the remainder, which a listing shows and which changes without a lastUpdated. */
  remainder?: PgColumn;
  /** The columns naming the customer and project a row depends on (foreign keys), for reading them with it. */
  references?: Partial<Record<'customer' | 'project', PgColumn>>;
  /** Column values of this kind beyond the common ones (tenant, number, versions, data). */
  values(record: EntityRecord): Record<string, unknown>;
}

/** Builds a descriptor whose number column is looked up by its (type-checked) property name. */
function describe<T extends EntityTable>(
  table: T,
  numberKey: Extract<keyof T['$inferInsert'], string>,
  rest: Omit<EntityKindDescriptor, 'table' | 'number' | 'numberKey'>,
): EntityKindDescriptor {
  const number = (table as unknown as Record<string, PgColumn>)[numberKey];
  if (!number) throw new Error(`no column ${numberKey}`);
  return { table, number, numberKey, ...rest };
}

/** A sales document's references: its customer and its project. */
const documentReferences = (table: typeof schema.economicOrders | typeof schema.economicQuotes | typeof schema.economicDraftInvoices | typeof schema.economicBookedInvoices) => ({
  customer: table.customerNumber,
  project: table.projectNumber,
});

const documentValues = (r: EntityRecord) => ({
  customerNumber: r.customerNumber ?? null,
  projectNumber: r.projectNumber ?? null,
  currency: r.currency ?? null,
  netAmount: r.netAmount ?? null,
  grossAmount: r.grossAmount ?? null,
  date: r.date ?? null,
});

export const ENTITY_KIND_DESCRIPTORS: Record<EntityKind, EntityKindDescriptor> = {
  customer: describe(schema.economicCustomers, 'customerNumber', {
    values: (r) => ({ name: r.name ?? null, currency: r.currency ?? null }),
  }),
  project: describe(schema.economicProjects, 'projectNumber', {
    references: { customer: schema.economicProjects.customerNumber },
    values: (r) => ({ name: r.name ?? null, customerNumber: r.customerNumber ?? null, isClosed: r.isClosed ?? false }),
  }),
  order: describe(schema.economicOrders, 'orderNumber', {
    documentType: 'order',
    status: schema.economicOrders.status,
    references: documentReferences(schema.economicOrders),
    values: (r) => ({ status: r.status ?? 'draft', ...documentValues(r) }),
  }),
  quote: describe(schema.economicQuotes, 'quoteNumber', {
    documentType: 'quote',
    status: schema.economicQuotes.status,
    references: documentReferences(schema.economicQuotes),
    values: (r) => ({ status: r.status ?? 'draft', ...documentValues(r) }),
  }),
  'draft-invoice': describe(schema.economicDraftInvoices, 'draftInvoiceNumber', {
    documentType: 'draft_invoice',
    references: documentReferences(schema.economicDraftInvoices),
    values: documentValues,
  }),
  'booked-invoice': describe(schema.economicBookedInvoices, 'bookedInvoiceNumber', {
    documentType: 'booked_invoice',
    references: documentReferences(schema.economicBookedInvoices),
    remainder: schema.economicBookedInvoices.remainder,
    values: (r) => ({ remainder: r.remainder ?? null, ...documentValues(r) }),
  }),
};
