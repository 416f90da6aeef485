// The convergence check of the reconciliation tests: every live row of every kind in Postgres equals what
// the fake e-conomic holds for the tenant (headers, statuses, amounts, lastUpdated, line counts).
import assert from 'node:assert/strict';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { queryRows, type Database } from '../../src/db/client';
import { economicBookedInvoices, economicCustomers, economicDraftInvoices, economicOrders, economicProjects, economicQuotes } from '../../src/db/schema';
import { DOC_STATES } from '../fake-economic';
import type { TestTenant } from './sync-harness';

const STATUS = { drafts: 'draft', sent: 'sent', archived: 'archived' } as const;
const instant = (v: Date | string | null | undefined) => (v ? new Date(v).toISOString() : null);
const byNumber = <T extends unknown[]>(rows: T[]) => [...rows].sort((a, b) => (a[0] as number) - (b[0] as number));

/** Every row of every kind in Postgres (not deleted) equals what the fake e-conomic holds. */
export async function assertTenantConverged(db: Database, t: TestTenant): Promise<void> {
  const a = t.agreement;
  const live = <C extends { tenantId: unknown; deletedAt: unknown }>(c: C) => and(eq(c.tenantId as never, t.id), isNull(c.deletedAt as never));

  const customers = await db.select().from(economicCustomers).where(live(economicCustomers));
  assert.deepEqual(
    byNumber(customers.map((c) => [c.customerNumber, c.name, c.currency, instant(c.lastUpdated)])),
    a.customers.list().map((c) => [c.customerNumber, c.name, c.currency, instant(c.lastUpdated)]),
    'customers',
  );
  const projects = await db.select().from(economicProjects).where(live(economicProjects));
  assert.deepEqual(
    byNumber(projects.map((p) => [p.projectNumber, p.name, p.customerNumber, p.isClosed, instant(p.lastUpdated)])),
    a.projects.list().map((p) => [p.number, p.name, p.customerNumber, p.isClosed, instant(p.lastUpdated)]),
    'projects',
  );
  for (const kind of ['order', 'quote'] as const) {
    const table = kind === 'order' ? economicOrders : economicQuotes;
    const rows = await db.select().from(table).where(live(table));
    const expected = DOC_STATES.flatMap((state) =>
      (kind === 'order' ? a.orders : a.quotes)[state]
        .list()
        .map((d) => [d.number, STATUS[state], d.customerNumber, d.projectNumber ?? null, d.netAmount, d.grossAmount, state === 'archived' ? null : instant(d.lastUpdated)]),
    );
    assert.deepEqual(
      byNumber(
        rows.map((r) => [
          'orderNumber' in r ? r.orderNumber : r.quoteNumber,
          r.status,
          r.customerNumber,
          r.projectNumber,
          Number(r.netAmount),
          Number(r.grossAmount),
          instant(r.lastUpdated),
        ]),
      ),
      byNumber(expected),
      `${kind}s`,
    );
  }
  const drafts = await db.select().from(economicDraftInvoices).where(live(economicDraftInvoices));
  assert.deepEqual(
    byNumber(drafts.map((d) => [d.draftInvoiceNumber, d.customerNumber, d.projectNumber, Number(d.netAmount), Number(d.grossAmount), instant(d.lastUpdated)])),
    a.draftInvoices.list().map((d) => [d.number, d.customerNumber, d.projectNumber ?? null, d.netAmount, d.grossAmount, instant(d.lastUpdated)]),
    'draft invoices',
  );
  const booked = await db.select().from(economicBookedInvoices).where(live(economicBookedInvoices));
  assert.deepEqual(
    byNumber(booked.map((b) => [b.bookedInvoiceNumber, b.customerNumber, b.projectNumber, Number(b.netAmount), Number(b.grossAmount), Number(b.remainder)])),
    a.bookedInvoices.list().map((b) => [b.number, b.customerNumber, b.projectNumber ?? null, b.netAmount, b.grossAmount, b.remainder ?? 0]),
    'booked invoices',
  );
  const lineCounts = await queryRows<{ document_type: string; n: number }>(
    db,
    sql`select document_type, count(*)::int as n from economic_document_lines where tenant_id = ${t.id} and deleted_at is null group by document_type`,
  );
  const count = (type: string) => lineCounts.find((r) => r.document_type === type)?.n ?? 0;
  const linesOf = (docs: ReadonlyArray<{ lines: unknown[] }>) => docs.reduce((s, d) => s + d.lines.length, 0);
  assert.equal(count('order'), DOC_STATES.reduce((s, st) => s + linesOf(a.orders[st].list()), 0), 'order lines');
  assert.equal(count('quote'), DOC_STATES.reduce((s, st) => s + linesOf(a.quotes[st].list()), 0), 'quote lines');
  assert.equal(count('draft_invoice'), linesOf(a.draftInvoices.list()), 'draft invoice lines');
  assert.equal(count('booked_invoice'), linesOf(a.bookedInvoices.list()), 'booked invoice lines');
}

