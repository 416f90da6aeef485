// Turns what e-conomic returned into the row values of the read model (docs/database.md): one pure mapping
// per entity kind. A record lives inside the syncEntity activity, from the fetch to the entity store's
// commit; it holds only what e-conomic returned, never a secret.
import type { BookedInvoice, Customer, DocumentState, Project, SalesDocument } from '../economic';
import type { EntityKind } from '../shared/entities';

export type DocumentStatus = 'draft' | 'sent' | 'archived';

export const STATE_STATUS: Record<DocumentState, DocumentStatus> = { drafts: 'draft', sent: 'sent', archived: 'archived' };
export const STATUS_STATE: Record<DocumentStatus, DocumentState> = { draft: 'drafts', sent: 'sent', archived: 'archived' };

export interface LineRecord {
  lineNumber: number;
  description: string | null;
  productNumber: string | null;
  quantity: string | null;
  unitNetPrice: string | null;
  totalNetAmount: string | null;
  data: Record<string, unknown>;
}

export interface EntityRecord {
  kind: EntityKind;
  number: number;
  /** e-conomic's lastUpdated (ISO), null where the resource has none (archived documents, booked invoices). */
  lastUpdated: string | null;
  /** When the fetch that produced this record started (ISO): orders versions that have no lastUpdated. */
  fetchedAt: string;
  name?: string | null;
  currency?: string | null;
  customerNumber?: number | null;
  projectNumber?: number | null;
  isClosed?: boolean;
  status?: DocumentStatus;
  netAmount?: string | null;
  grossAmount?: string | null;
  remainder?: string | null;
  date?: string | null;
  lines?: LineRecord[];
  data: Record<string, unknown>;
}

/** A reference to another entity that must be in Postgres before this one is committed. */
export interface DependencyRef {
  kind: 'customer' | 'project';
  number: number;
}

const amount = (v: unknown): string | null => (typeof v === 'number' && Number.isFinite(v) ? String(v) : typeof v === 'string' && v !== '' ? v : null);
const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);

export function customerRecord(c: Customer, fetchedAt: string): EntityRecord {
  return {
    kind: 'customer',
    number: c.customerNumber,
    lastUpdated: text(c.lastUpdated),
    fetchedAt,
    name: text(c.name),
    currency: text(c.currency),
    data: c,
  };
}

export function projectRecord(p: Project, fetchedAt: string): EntityRecord {
  return {
    kind: 'project',
    number: p.number,
    lastUpdated: text(p.lastUpdated),
    fetchedAt,
    name: text(p.name),
    customerNumber: int(p.customerNumber),
    isClosed: p.isClosed === true,
    data: p,
  };
}

function lineRecords(doc: SalesDocument): LineRecord[] {
  return (doc.lines ?? []).map((line, index) => ({
    lineNumber: int(line.lineNumber) ?? index + 1,
    description: text(line.description),
    productNumber: line.product ? text(line.product.productNumber) ?? (line.product.productNumber != null ? String(line.product.productNumber) : null) : null,
    quantity: amount(line.quantity),
    unitNetPrice: amount(line.unitNetPrice),
    totalNetAmount: amount(line.totalNetAmount),
    data: line,
  }));
}

export function documentRecord(
  kind: 'order' | 'quote' | 'draft-invoice' | 'booked-invoice',
  number: number,
  doc: SalesDocument | BookedInvoice,
  fetchedAt: string,
  state?: DocumentState,
): EntityRecord {
  const record: EntityRecord = {
    kind,
    number,
    lastUpdated: text(doc.lastUpdated),
    fetchedAt,
    customerNumber: int(doc.customer?.customerNumber),
    projectNumber: int(doc.project?.projectNumber),
    currency: text(doc.currency),
    netAmount: amount(doc.netAmount),
    grossAmount: amount(doc.grossAmount),
    date: text(doc.date),
    lines: lineRecords(doc),
    data: doc,
  };
  if (state) record.status = STATE_STATUS[state];
  if (kind === 'booked-invoice') record.remainder = amount(doc.remainder);
  return record;
}

/** What must exist before the record may be committed: customer first, then project. */
export function dependenciesOf(record: EntityRecord): DependencyRef[] {
  const deps: DependencyRef[] = [];
  if (record.kind !== 'customer' && record.customerNumber != null) deps.push({ kind: 'customer', number: record.customerNumber });
  if (record.kind !== 'customer' && record.kind !== 'project' && record.projectNumber != null) {
    deps.push({ kind: 'project', number: record.projectNumber });
  }
  return deps;
}
