// JSON as e-conomic returns it, from the fake's records. Field names follow the published schemas;
// booleans are omitted when false, the legacy REST's `self` links point back at the fake.

import type { CustomerRec, DocRec, LineRec, ProjectRec } from './store';
import { VAT_RATE } from './store';
import { toZoneless } from './zone-less';

export type DocKind = 'order' | 'quote' | 'draftInvoice' | 'bookedInvoice';

export const DOC_KEY: Record<DocKind, string> = {
  order: 'orderNumber',
  quote: 'quoteNumber',
  draftInvoice: 'draftInvoiceNumber',
  bookedInvoice: 'bookedInvoiceNumber',
};

export function renderCustomer(c: CustomerRec, rest: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    customerNumber: c.customerNumber,
    currency: c.currency,
    paymentTerms: { paymentTermsNumber: 1, self: `${rest}/payment-terms/1` },
    customerGroup: { customerGroupNumber: 1, self: `${rest}/customer-groups/1` },
    vatZone: { vatZoneNumber: 1, self: `${rest}/vat-zones/1` },
    name: c.name,
    lastUpdated: c.lastUpdated,
    self: `${rest}/customers/${c.customerNumber}`,
  };
  for (const k of ['email', 'address', 'city', 'zip', 'country'] as const) if (c[k] !== undefined) out[k] = c[k];
  if (c.barred) out.barred = true;
  return out;
}

/**
 * A project as the Projects API returns it: no `self`, false booleans omitted, `lastUpdated` zone-less in
 * the fake's chosen zone (docs/economic-api.md).
 */
export function renderProject(p: ProjectRec, timeZone: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    number: p.number,
    name: p.name,
    projectGroupNumber: 1,
    customerNumber: p.customerNumber,
    mainProjectNumber: p.mainProjectNumber,
    status: p.isClosed ? 2 : 1,
    description: null,
    closedDate: null,
    costPrice: 0,
    salesPrice: 0,
    invoicedTotal: 0,
    objectVersion: p.objectVersion,
    lastUpdated: toZoneless(Date.parse(p.lastUpdated), timeZone),
  };
  if (p.isClosed) out.isClosed = true;
  if (p.isBarred) out.isBarred = true;
  if (p.mainProjectNumber === null) out.isMainProject = true;
  return out;
}

function renderLine(l: LineRec, rest: string, booked: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    lineNumber: l.lineNumber,
    sortKey: l.sortKey,
    unit: { unitNumber: 1, name: 'stk.', self: `${rest}/units/1` },
    quantity: l.quantity,
    unitNetPrice: l.unitNetPrice,
    discountPercentage: l.discountPercentage ?? 0,
    unitCostPrice: 0,
    totalNetAmount: l.totalNetAmount,
    marginInBaseCurrency: l.totalNetAmount,
    marginPercentage: 100,
  };
  if (l.description !== undefined) out.description = l.description;
  if (l.productNumber !== undefined) out.product = { productNumber: l.productNumber, self: `${rest}/products/${encodeURIComponent(l.productNumber)}` };
  if (booked) {
    out.vatRate = VAT_RATE * 100;
    out.vatAmount = Math.round(l.totalNetAmount * VAT_RATE * 100) / 100;
  }
  return out;
}

/**
 * A sales document. `withLines` is false for collection entries (collections list documents without lines;
 * fetch one document to get them). `withLastUpdated` is false for archived orders/quotes and booked invoices.
 */
export function renderDocument(
  d: DocRec,
  kind: DocKind,
  selfPath: string,
  rest: string,
  o: { withLines: boolean; withLastUpdated: boolean },
): Record<string, unknown> {
  const rate = d.exchangeRate / 100;
  const out: Record<string, unknown> = {
    [DOC_KEY[kind]]: d.number,
    date: d.date,
    currency: d.currency,
    exchangeRate: d.exchangeRate,
    netAmount: d.netAmount,
    netAmountInBaseCurrency: Math.round(d.netAmount * rate * 100) / 100,
    grossAmount: d.grossAmount,
    grossAmountInBaseCurrency: Math.round(d.grossAmount * rate * 100) / 100,
    vatAmount: d.vatAmount,
    roundingAmount: 0,
    dueDate: d.dueDate,
    paymentTerms: { paymentTermsNumber: 1, daysOfCredit: 30, paymentTermsType: 'net', self: `${rest}/payment-terms/1` },
    customer: { customerNumber: d.customerNumber, self: `${rest}/customers/${d.customerNumber}` },
    recipient: { name: `Customer ${d.customerNumber}`, vatZone: { vatZoneNumber: 1, self: `${rest}/vat-zones/1` } },
    references: {},
    layout: { layoutNumber: 19, self: `${rest}/layouts/19` },
    pdf: { download: `${rest}${selfPath}/pdf` },
    self: `${rest}${selfPath}`,
  };
  if (d.heading !== undefined) out.notes = { heading: d.heading };
  if (d.projectNumber !== undefined) {
    // The legacy REST links its own (older) projects resource here, not the Projects API.
    out.project = { projectNumber: d.projectNumber, self: `${rest}/projects/${d.projectNumber}` };
  }
  if (d.remainder !== undefined) {
    out.remainder = d.remainder;
    out.remainderInBaseCurrency = Math.round(d.remainder * rate * 100) / 100;
  }
  if (o.withLastUpdated) out.lastUpdated = d.lastUpdated;
  if (o.withLines) out.lines = d.lines.map((l) => renderLine(l, rest, kind === 'bookedInvoice'));
  return out;
}
