// Booking a draft invoice removes the draft in e-conomic without naming it in the booked invoice, so after
// a booked invoice is committed, the customer's open drafts with the same amount and currency (booking
// keeps them) are looked up again, and the ones gone are marked deleted. Drafts this misses (amounts
// changed while booking) are caught by the full reconciliation.
import type { EntityStore } from '../src/store/entity-store';
import type { EntityRecord } from '../src/sync/entity-record';
import type { EconomicSession } from './economic-access';

/** Upper bound of drafts re-checked per booked invoice (a customer with hundreds of drafts is unusual). */
export const MAX_DRAFTS_RECHECKED = 25;

/** Returns the numbers of the drafts it marked deleted. */
export async function recheckDraftInvoices(
  session: EconomicSession,
  store: Pick<EntityStore, 'openDraftInvoices' | 'markDeleted'>,
  tenantId: number,
  booked: EntityRecord,
): Promise<number[]> {
  if (booked.customerNumber == null) return [];
  const drafts = await store.openDraftInvoices(tenantId, {
    customerNumber: booked.customerNumber,
    netAmount: booked.netAmount,
    currency: booked.currency,
    limit: MAX_DRAFTS_RECHECKED,
  });
  const deleted: number[] = [];
  for (const number of drafts) {
    const fetchedAt = new Date().toISOString();
    const draft = await session.run((client) => client.getDraftInvoice(number));
    if (draft === null && (await store.markDeleted(tenantId, 'draft-invoice', number, fetchedAt)) === 'deleted') deleted.push(number);
  }
  return deleted;
}
