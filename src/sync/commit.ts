// Writes entity records into the read model, one transaction per entity, under the invariants of
// docs/database.md: a header row and its lines are replaced together; an older version never overwrites
// a newer one; an entity gone from e-conomic gets `deleted_at` and is never removed; renumbering moves
// the row. Writes to one entity are serialised by a transaction-scoped advisory lock, so two workflows
// syncing the same dependency (say, a project two orders share) never write it at the same moment, and
// since each transaction takes exactly one such lock, they cannot deadlock.
import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Database, Transaction } from '../db/client';
import {
  economicBookedInvoices,
  economicCustomers,
  economicDocumentLines,
  economicDraftInvoices,
  economicOrders,
  economicProjects,
  economicQuotes,
  type DocumentType,
} from '../db/schema';
import type { EntityKind } from '../shared/entities';
import type { DocumentStatus, EntityRecord } from './entity-record';

interface KindTable {
  table: PgTable;
  number: PgColumn;
  tenantId: PgColumn;
  lastUpdated: PgColumn;
  syncedAt: PgColumn;
  deletedAt: PgColumn;
  /** Set for sales documents: their lines live in economic_document_lines under this type. */
  documentType?: DocumentType;
  status?: PgColumn;
  customerNumber?: PgColumn;
  /** Column values of this kind beyond the common ones. */
  values(record: EntityRecord): Record<string, unknown>;
}

const documentValues = (r: EntityRecord) => ({
  customerNumber: r.customerNumber ?? null,
  projectNumber: r.projectNumber ?? null,
  currency: r.currency ?? null,
  netAmount: r.netAmount ?? null,
  grossAmount: r.grossAmount ?? null,
  date: r.date ?? null,
});

export const KIND_TABLES: Record<EntityKind, KindTable> = {
  customer: {
    table: economicCustomers,
    number: economicCustomers.customerNumber,
    tenantId: economicCustomers.tenantId,
    lastUpdated: economicCustomers.lastUpdated,
    syncedAt: economicCustomers.syncedAt,
    deletedAt: economicCustomers.deletedAt,
    values: (r) => ({ customerNumber: r.number, name: r.name ?? null, currency: r.currency ?? null }),
  },
  project: {
    table: economicProjects,
    number: economicProjects.projectNumber,
    tenantId: economicProjects.tenantId,
    lastUpdated: economicProjects.lastUpdated,
    syncedAt: economicProjects.syncedAt,
    deletedAt: economicProjects.deletedAt,
    customerNumber: economicProjects.customerNumber,
    values: (r) => ({ projectNumber: r.number, name: r.name ?? null, customerNumber: r.customerNumber ?? null, isClosed: r.isClosed ?? false }),
  },
  order: {
    table: economicOrders,
    number: economicOrders.orderNumber,
    tenantId: economicOrders.tenantId,
    lastUpdated: economicOrders.lastUpdated,
    syncedAt: economicOrders.syncedAt,
    deletedAt: economicOrders.deletedAt,
    status: economicOrders.status,
    customerNumber: economicOrders.customerNumber,
    documentType: 'order',
    values: (r) => ({ orderNumber: r.number, status: r.status ?? 'draft', ...documentValues(r) }),
  },
  quote: {
    table: economicQuotes,
    number: economicQuotes.quoteNumber,
    tenantId: economicQuotes.tenantId,
    lastUpdated: economicQuotes.lastUpdated,
    syncedAt: economicQuotes.syncedAt,
    deletedAt: economicQuotes.deletedAt,
    status: economicQuotes.status,
    customerNumber: economicQuotes.customerNumber,
    documentType: 'quote',
    values: (r) => ({ quoteNumber: r.number, status: r.status ?? 'draft', ...documentValues(r) }),
  },
  'draft-invoice': {
    table: economicDraftInvoices,
    number: economicDraftInvoices.draftInvoiceNumber,
    tenantId: economicDraftInvoices.tenantId,
    lastUpdated: economicDraftInvoices.lastUpdated,
    syncedAt: economicDraftInvoices.syncedAt,
    deletedAt: economicDraftInvoices.deletedAt,
    customerNumber: economicDraftInvoices.customerNumber,
    documentType: 'draft_invoice',
    values: (r) => ({ draftInvoiceNumber: r.number, ...documentValues(r) }),
  },
  'booked-invoice': {
    table: economicBookedInvoices,
    number: economicBookedInvoices.bookedInvoiceNumber,
    tenantId: economicBookedInvoices.tenantId,
    lastUpdated: economicBookedInvoices.lastUpdated,
    syncedAt: economicBookedInvoices.syncedAt,
    deletedAt: economicBookedInvoices.deletedAt,
    customerNumber: economicBookedInvoices.customerNumber,
    documentType: 'booked_invoice',
    values: (r) => ({ bookedInvoiceNumber: r.number, remainder: r.remainder ?? null, ...documentValues(r) }),
  },
};

export interface StoredEntity {
  number: number;
  lastUpdated: Date | null;
  syncedAt: Date;
  deletedAt: Date | null;
  status?: DocumentStatus;
}

function whereEntity(t: KindTable, tenantId: number, number: number): SQL {
  return and(eq(t.tenantId, tenantId), eq(t.number, number)) as SQL;
}

export async function readStoredEntity(db: Database | Transaction, tenantId: number, kind: EntityKind, number: number): Promise<StoredEntity | undefined> {
  const t = KIND_TABLES[kind];
  const [row] = await db
    .select({
      number: t.number,
      lastUpdated: t.lastUpdated,
      syncedAt: t.syncedAt,
      deletedAt: t.deletedAt,
      ...(t.status ? { status: t.status } : {}),
    })
    .from(t.table)
    .where(whereEntity(t, tenantId, number));
  return row as StoredEntity | undefined;
}

/** The lines of one document. */
export function linesOf(tenantId: number, documentType: DocumentType, documentNumber: number): SQL {
  return and(
    eq(economicDocumentLines.tenantId, tenantId),
    eq(economicDocumentLines.documentType, documentType),
    eq(economicDocumentLines.documentNumber, documentNumber),
  ) as SQL;
}

async function lockEntity(tx: Transaction, tenantId: number, kind: EntityKind, number: number): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`${tenantId}/${kind}/${number}`}, 0))`);
}

/**
 * "Is the incoming version at least as new as the stored one?": by e-conomic's lastUpdated when both
 * have one; otherwise by when each was fetched (archived documents and booked invoices have no
 * lastUpdated, and a document moving to the archive loses it).
 */
function incomingIsNewer(t: KindTable, lastUpdated: Date | null, fetchedAt: Date): SQL {
  const lu = lastUpdated ? sql`${lastUpdated.toISOString()}::timestamptz` : sql`null::timestamptz`;
  return sql`(case when ${lu} is not null and ${t.lastUpdated} is not null then ${lu} >= ${t.lastUpdated} else ${fetchedAt.toISOString()}::timestamptz >= ${t.syncedAt} end)`;
}

export type CommitOutcome = 'written' | 'stale';

export interface CommitOptions {
  /** Set when e-conomic renumbered the entity from this number (and the old number is gone there). */
  renumberedFrom?: number;
}

export async function commitRecord(db: Database, tenantId: number, record: EntityRecord, options: CommitOptions = {}): Promise<CommitOutcome> {
  const t = KIND_TABLES[record.kind];
  const fetchedAt = new Date(record.fetchedAt);
  const lastUpdated = record.lastUpdated ? new Date(record.lastUpdated) : null;
  return db.transaction(async (tx) => {
    await lockEntity(tx, tenantId, record.kind, record.number);
    if (options.renumberedFrom !== undefined && options.renumberedFrom !== record.number) {
      await moveRenumbered(tx, tenantId, record.kind, options.renumberedFrom, record.number, fetchedAt);
    }
    const row = { tenantId, lastUpdated, syncedAt: fetchedAt, deletedAt: null, data: record.data, ...t.values(record) };
    const { tenantId: _t, ...updates } = row;
    const written = await tx
      .insert(t.table)
      .values(row)
      .onConflictDoUpdate({ target: [t.tenantId, t.number], set: updates, setWhere: incomingIsNewer(t, lastUpdated, fetchedAt) })
      .returning({ number: t.number });
    if (written.length === 0) return 'stale';
    if (t.documentType) await replaceLines(tx, tenantId, t.documentType, record, lastUpdated, fetchedAt);
    return 'written';
  });
}

async function replaceLines(tx: Transaction, tenantId: number, documentType: DocumentType, record: EntityRecord, lastUpdated: Date | null, fetchedAt: Date): Promise<void> {
  await tx
    .delete(economicDocumentLines)
    .where(linesOf(tenantId, documentType, record.number));
  const lines = record.lines ?? [];
  // Chunks keep each statement well under Postgres' bind-parameter limit.
  for (let i = 0; i < lines.length; i += 500) {
    await tx.insert(economicDocumentLines).values(
      lines.slice(i, i + 500).map((line) => ({
        tenantId,
        documentType,
        documentNumber: record.number,
        lineNumber: line.lineNumber,
        description: line.description,
        productNumber: line.productNumber,
        quantity: line.quantity,
        unitNetPrice: line.unitNetPrice,
        totalNetAmount: line.totalNetAmount,
        lastUpdated,
        syncedAt: fetchedAt,
        data: line.data,
      })),
    );
  }
}

/**
 * Renumbering: the row (and its lines) moves to the new number, so the time-registration application
 * keeps its history of the entity. If the new number already has a row, the old one is marked deleted.
 */
async function moveRenumbered(tx: Transaction, tenantId: number, kind: EntityKind, from: number, to: number, fetchedAt: Date): Promise<void> {
  const t = KIND_TABLES[kind];
  await lockEntity(tx, tenantId, kind, from);
  const [old] = await tx.select({ number: t.number }).from(t.table).where(whereEntity(t, tenantId, from));
  if (!old) return;
  const [existing] = await tx.select({ number: t.number }).from(t.table).where(whereEntity(t, tenantId, to));
  if (existing) {
    await tx.update(t.table).set({ deletedAt: fetchedAt }).where(and(whereEntity(t, tenantId, from), isNull(t.deletedAt)));
    return;
  }
  // Foreign keys from documents to customers and projects cascade on update.
  await tx.update(t.table).set({ [columnKey(t.number)]: to }).where(whereEntity(t, tenantId, from));
  if (t.documentType) {
    await tx
      .update(economicDocumentLines)
      .set({ documentNumber: to })
      .where(linesOf(tenantId, t.documentType, from));
  }
}

/** The property name drizzle uses for a column (its TypeScript key), needed for dynamic `.set()`. */
function columnKey(column: PgColumn): string {
  const table = column.table as unknown as Record<string, unknown>;
  const key = Object.keys(table).find((k) => table[k] === column);
  if (!key) throw new Error(`column ${column.name} not found on its table`);
  return key;
}

export type DeleteOutcome = 'deleted' | 'absent' | 'stale';

/** e-conomic no longer has the entity: mark it (and its lines) deleted, unless a newer sync wrote it. */
export async function markEntityDeleted(db: Database, tenantId: number, kind: EntityKind, number: number, fetchedAtIso: string): Promise<DeleteOutcome> {
  const t = KIND_TABLES[kind];
  const fetchedAt = new Date(fetchedAtIso);
  return db.transaction(async (tx) => {
    await lockEntity(tx, tenantId, kind, number);
    const [row] = await tx.select({ syncedAt: t.syncedAt, deletedAt: t.deletedAt }).from(t.table).where(whereEntity(t, tenantId, number));
    if (!row) return 'absent';
    if (row.deletedAt) return 'deleted';
    if ((row.syncedAt as Date) > fetchedAt) return 'stale';
    await tx.update(t.table).set({ deletedAt: fetchedAt, syncedAt: fetchedAt }).where(whereEntity(t, tenantId, number));
    if (t.documentType) {
      await tx
        .update(economicDocumentLines)
        .set({ deletedAt: fetchedAt })
        .where(and(linesOf(tenantId, t.documentType, number), isNull(economicDocumentLines.deletedAt)));
    }
    return 'deleted';
  });
}
