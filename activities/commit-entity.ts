// commitEntity / markDeleted: write what fetchEntity read, one transaction per entity (src/sync/commit.ts
// holds the invariants). recheckDraftInvoices: booking a draft invoice removes the draft in e-conomic
// without naming it in the booked invoice, so after a booked invoice is committed the customer's open
// drafts with the same amount and currency (booking keeps them) are looked up again, and the ones gone
// are marked deleted. Drafts this misses (amounts changed while booking) are caught by the full
// reconciliation.
import { Context } from '@temporalio/activity';
import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from '../src/db/client';
import { economicDraftInvoices } from '../src/db/schema';
import type { EntityKind } from '../src/shared/entities';
import { commitRecord, markEntityDeleted, type CommitOutcome, type DeleteOutcome } from '../src/sync/commit';
import type { EntityRecord } from '../src/sync/entity-record';
import type { EconomicAccess, TenantRef } from './economic-access';

/** Upper bound of drafts re-checked per booked invoice (a customer with hundreds of drafts is unusual). */
export const MAX_DRAFTS_RECHECKED = 25;

export function createCommitActivities(deps: { db: Database; access: EconomicAccess }) {
  return {
    async commitEntity(input: { tenantId: number; record: EntityRecord; renumberedFrom?: number }): Promise<CommitOutcome> {
      return commitRecord(deps.db, input.tenantId, input.record, { renumberedFrom: input.renumberedFrom });
    },

    async markDeleted(input: { tenantId: number; kind: EntityKind; number: number; fetchedAt: string }): Promise<DeleteOutcome> {
      return markEntityDeleted(deps.db, input.tenantId, input.kind, input.number, input.fetchedAt);
    },

    async recheckDraftInvoices(
      input: TenantRef & { customerNumber: number; netAmount?: string | null; currency?: string | null },
    ): Promise<{ checked: number; deleted: number[] }> {
      const drafts = await deps.db
        .select({ number: economicDraftInvoices.draftInvoiceNumber })
        .from(economicDraftInvoices)
        .where(
          and(
            eq(economicDraftInvoices.tenantId, input.tenantId),
            eq(economicDraftInvoices.customerNumber, input.customerNumber),
            isNull(economicDraftInvoices.deletedAt),
            input.netAmount != null ? eq(economicDraftInvoices.netAmount, input.netAmount) : undefined,
            input.currency != null ? eq(economicDraftInvoices.currency, input.currency) : undefined,
          ),
        )
        .limit(MAX_DRAFTS_RECHECKED);
      if (drafts.length === 0) return { checked: 0, deleted: [] };
      const session = await deps.access.open(input, Context.current().cancellationSignal);
      const deleted: number[] = [];
      for (const { number } of drafts) {
        const fetchedAt = new Date().toISOString();
        const draft = await session.run((client) => client.getDraftInvoice(number));
        if (draft === null && (await markEntityDeleted(deps.db, input.tenantId, 'draft-invoice', number, fetchedAt)) === 'deleted') {
          deleted.push(number);
        }
      }
      return { checked: drafts.length, deleted };
    },
  };
}
