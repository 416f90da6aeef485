// Booking a draft invoice removes the draft in e-conomic without naming it in the booked invoice, so after
// a booked invoice is committed, the customer's open drafts with the same amount and currency (booking
// keeps them) are looked up again, and the ones gone are marked deleted. Drafts this misses (amounts
// changed while booking) are caught by the full reconciliation.
//
// Two callers: a sync (activities/sync-entity.ts) re-checks its one booked invoice's drafts one by one; the
// bulk lane (activities/bulk-sync.ts) gathers the drafts of all booked invoices a page wrote and fetches
// each once (docs/architecture.md, "Reconciliation's bulk lane"). Both fetch and mark through `recheckDrafts`.
import type { DraftInvoiceQuery, EntityStore } from '../src/store/entity-store';
import type { EntityRecord } from '../src/sync/entity-record';
import { eachLimited } from '../src/util/each-limited';
import type { EconomicSession } from './economic-access';

/** Upper bound of drafts re-checked per booked invoice (a customer with hundreds of drafts is unusual). */
export const MAX_DRAFTS_RECHECKED = 25;

/** Which drafts the booking of this invoice may have removed; undefined when it names no customer. */
export function draftQueryOf(booked: EntityRecord): DraftInvoiceQuery | undefined {
  if (booked.customerNumber == null) return undefined;
  return { customerNumber: booked.customerNumber, netAmount: booked.netAmount, currency: booked.currency };
}

export interface RecheckOptions {
  /** Drafts fetched at once. */
  concurrency: number;
  /**
   * A failed fetch of one draft: return true to go on with the others (the caller handles that draft),
   * false to fail the whole re-check with it (after the fetches already started have finished).
   */
  failed?: (draft: number, err: unknown) => boolean;
}

/** Fetches each draft once; marks deleted the ones e-conomic no longer has. Returns the numbers it marked. */
export async function recheckDrafts(
  session: EconomicSession,
  store: Pick<EntityStore, 'markDeleted'>,
  tenantId: number,
  drafts: readonly number[],
  options: RecheckOptions,
): Promise<number[]> {
  const deleted: number[] = [];
  await eachLimited(drafts, options.concurrency, async (number) => {
    const fetchedAt = new Date().toISOString();
    let draft;
    try {
      draft = await session.run((client) => client.getDraftInvoice(number));
    } catch (err) {
      if (options.failed?.(number, err)) return;
      throw err;
    }
    if (draft === null && (await store.markDeleted(tenantId, 'draft-invoice', number, fetchedAt)) === 'deleted') deleted.push(number);
  });
  return deleted;
}

/** One booked invoice's re-check (a sync's): its drafts one at a time, the first failure fails it. */
export async function recheckDraftInvoices(
  session: EconomicSession,
  store: Pick<EntityStore, 'openDraftInvoices' | 'markDeleted'>,
  tenantId: number,
  booked: EntityRecord,
): Promise<number[]> {
  const query = draftQueryOf(booked);
  if (!query) return [];
  const drafts = await store.openDraftInvoices(tenantId, { ...query, limit: MAX_DRAFTS_RECHECKED });
  return recheckDrafts(session, store, tenantId, drafts, { concurrency: 1 });
}
