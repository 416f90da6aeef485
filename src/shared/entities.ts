// Pure names shared by the webhook, the workflows and the activities. No I/O here: workflows import it.

/** The `APISource` values e-conomic webhooks carry (docs/webhook.md). */
export const API_SOURCES = [
  'eConomicOrder',
  'eConomicOffer',
  'eConomicInvoiceDraft',
  'eConomicInvoicePosted',
  'eConomicProject',
] as const;
export type ApiSource = (typeof API_SOURCES)[number];

/** Entity kinds we keep a table for. Customers are synced as a dependency of the others. */
export const ENTITY_KINDS = ['customer', 'project', 'order', 'quote', 'draft-invoice', 'booked-invoice'] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];

export const SOURCE_KIND: Record<ApiSource, EntityKind> = {
  eConomicOrder: 'order',
  eConomicOffer: 'quote',
  eConomicInvoiceDraft: 'draft-invoice',
  eConomicInvoicePosted: 'booked-invoice',
  eConomicProject: 'project',
};

/**
 * The e-conomic source each kind belongs to: its webhook's APISource; customers, which e-conomic sends
 * no webhook for here, `eConomicCustomer` (docs/temporal.md). The `EconomicSource` search attribute.
 */
export const KIND_SOURCE: Record<EntityKind, ApiSource | 'eConomicCustomer'> = {
  customer: 'eConomicCustomer',
  project: 'eConomicProject',
  order: 'eConomicOrder',
  quote: 'eConomicOffer',
  'draft-invoice': 'eConomicInvoiceDraft',
  'booked-invoice': 'eConomicInvoicePosted',
};

export function isApiSource(value: unknown): value is ApiSource {
  return typeof value === 'string' && (API_SOURCES as readonly string[]).includes(value);
}

export function isEntityKind(value: unknown): value is EntityKind {
  return typeof value === 'string' && (ENTITY_KINDS as readonly string[]).includes(value);
}

/** Tenant names appear in workflow IDs and schedule IDs, so they are kept to a URL- and ID-safe alphabet. */
export const TENANT_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** `economic/<tenant>/<kind>/<number>` (docs/temporal.md). */
export function entityWorkflowId(tenant: string, kind: EntityKind, number: number): string {
  return `economic/${tenant}/${kind}/${number}`;
}

/** `reconcile/<tenant>` (docs/temporal.md). */
export function reconcileScheduleId(tenant: string): string {
  return `reconcile/${tenant}`;
}

