// Compares what Postgres holds for a tenant with what the fake e-conomic holds: used by the benchmarks
// ("every row committed") and the fault suite ("every acknowledged event reflected exactly").
import { sql } from 'drizzle-orm';
import { queryRows, type Database } from '../../src/db/client';
import type { DocRec, DocState, FakeAgreement } from '../../test/fake-economic';

export type DocKind = 'order' | 'quote' | 'draft-invoice' | 'booked-invoice';
export interface EntityRef {
  kind: DocKind;
  number: number;
}

const TABLE: Record<DocKind, { table: string; column: string; lineType: string }> = {
  order: { table: 'economic_orders', column: 'order_number', lineType: 'order' },
  quote: { table: 'economic_quotes', column: 'quote_number', lineType: 'quote' },
  'draft-invoice': { table: 'economic_draft_invoices', column: 'draft_invoice_number', lineType: 'draft_invoice' },
  'booked-invoice': { table: 'economic_booked_invoices', column: 'booked_invoice_number', lineType: 'booked_invoice' },
};
const STATUS: Record<DocState, string> = { drafts: 'draft', sent: 'sent', archived: 'archived' };

/** The fake's current version of a document, and (orders, quotes) its lifecycle status. */
export function fakeDocument(agreement: FakeAgreement, ref: EntityRef): { doc: DocRec; status?: string } | undefined {
  if (ref.kind === 'order' || ref.kind === 'quote') {
    const maps = ref.kind === 'order' ? agreement.orders : agreement.quotes;
    for (const state of ['drafts', 'sent', 'archived'] as const) {
      const doc = maps[state].get(ref.number);
      if (doc) return { doc, status: STATUS[state] };
    }
    return undefined;
  }
  const doc = (ref.kind === 'draft-invoice' ? agreement.draftInvoices : agreement.bookedInvoices).get(ref.number);
  return doc && { doc };
}

type Row = {
  number: number;
  status: string | null;
  customer_number: number | null;
  project_number: number | null;
  currency: string | null;
  net_amount: string | null;
  gross_amount: string | null;
  deleted_at: Date | null;
  lines: number;
};

export interface Comparison {
  checked: number;
  present: number;
  missing: EntityRef[];
  /** Human-readable differences, one per mismatching entity. */
  mismatched: string[];
}

/** Rows present (not deleted) for these entities; cheap enough to poll. */
export async function countPresent(db: Database, tenantId: number, refs: readonly EntityRef[]): Promise<number> {
  let total = 0;
  for (const kind of Object.keys(TABLE) as DocKind[]) {
    const numbers = refs.filter((r) => r.kind === kind).map((r) => r.number);
    if (numbers.length === 0) continue;
    const t = TABLE[kind];
    const [row] = await queryRows<{ n: number }>(
      db,
      sql`select count(*)::int as n from ${sql.raw(t.table)} where tenant_id = ${tenantId} and deleted_at is null and ${sql.raw(t.column)} = any(${`{${numbers.join(',')}}`}::int[])`,
    );
    total += row?.n ?? 0;
  }
  return total;
}

/** Every entity's row against the fake: status, customer, project, currency, amounts, line count. */
export async function compareWithFake(db: Database, tenantId: number, agreement: FakeAgreement, refs: readonly EntityRef[]): Promise<Comparison> {
  const result: Comparison = { checked: refs.length, present: 0, missing: [], mismatched: [] };
  for (const kind of Object.keys(TABLE) as DocKind[]) {
    const wanted = refs.filter((r) => r.kind === kind);
    if (wanted.length === 0) continue;
    const t = TABLE[kind];
    const statusColumn = kind === 'order' || kind === 'quote' ? sql.raw('d.status') : sql.raw('null::text');
    const rows = await queryRows<Row>(
      db,
      sql`select d.${sql.raw(t.column)} as number, ${statusColumn} as status, d.customer_number, d.project_number, d.currency,
                 d.net_amount::text as net_amount, d.gross_amount::text as gross_amount, d.deleted_at,
                 (select count(*)::int from economic_document_lines l
                   where l.tenant_id = d.tenant_id and l.document_type = ${t.lineType} and l.document_number = d.${sql.raw(t.column)}) as lines
            from ${sql.raw(t.table)} d where d.tenant_id = ${tenantId}`,
    );
    const byNumber = new Map(rows.map((r) => [Number(r.number), r]));
    for (const ref of wanted) {
      const row = byNumber.get(ref.number);
      const fake = fakeDocument(agreement, ref);
      if (!row || row.deleted_at) {
        if (fake) result.missing.push(ref);
        continue;
      }
      result.present += 1;
      if (!fake) {
        result.mismatched.push(`${ref.kind} ${ref.number}: in Postgres, gone from e-conomic`);
        continue;
      }
      const { doc, status } = fake;
      const diffs: string[] = [];
      const same = (what: string, actual: unknown, expected: unknown) => {
        if (actual !== expected) diffs.push(`${what} ${String(actual)} != ${String(expected)}`);
      };
      if (status) same('status', row.status, status);
      same('customer', row.customer_number === null ? null : Number(row.customer_number), doc.customerNumber);
      same('project', row.project_number === null ? null : Number(row.project_number), doc.projectNumber ?? null);
      same('currency', row.currency, doc.currency);
      same('net', Number(row.net_amount), doc.netAmount);
      same('gross', Number(row.gross_amount), doc.grossAmount);
      same('lines', row.lines, doc.lines.length);
      if (diffs.length > 0) result.mismatched.push(`${ref.kind} ${ref.number}: ${diffs.join(', ')}`);
    }
  }
  return result;
}
