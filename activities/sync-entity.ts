// syncEntity: one sync of one entity, in one activity task. It authenticates (the grant's validation is
// cached), fetches the entity, resolves what it depends on (customer, project: fetched when missing or
// stale) and commits the dependencies and the entity in one database transaction through the entity
// store, with the sync's outcome in `sync_state`; or marks the entity deleted when e-conomic no longer has
// it. A booked invoice then re-checks its customer's open drafts. Entity data stays inside this activity:
// only a small result enters the workflow's history, however many lines a document has.
//
// A reference can change between the fetch and the commit (a project renumbered meanwhile: the commit
// violates a foreign key). Retrying the same record cannot heal that, so the sync fetches the entity and
// all its dependencies again, a bounded number of rounds, and then fails for good with a readable type.
//
// Webhooks whose change the stored version already holds cost no call (outcome `covered`): when every
// event of the sync is a webhook's and the stored version's fetch started at least FETCH_COVERS_AFTER_MS
// after the newest of them arrived. A burst's inbox hands many events to their workflows after the entity
// was synced for an earlier one (docs/temporal.md, "Webhooks a fetch already covered").
//
// A kind e-conomic answers 403 for (docs/webhook.md) is skipped without a call (outcome `skipped`); a
// reference to an unreadable project is committed without the reference column, its number kept in `data`.
// A sync that ended with the entity as e-conomic has it tells `onCommitted` how long after its oldest
// event that was (the sync-lag metric, README.md "Operating it").
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { DocumentState } from '../src/economic';
import { isIntegrityViolation } from '../src/db/errors';
import { FAILURE_TYPES } from '../src/shared/failure-types';
import { entityWorkflowId, isApiSource, type EntityKind } from '../src/shared/entities';
import { isInternalSource, type InternalSource, type SyncOutcome } from '../src/shared/sync-signals';
import type { EntityStore, StoredEntity } from '../src/store/entity-store';
import { ensureGrantValidated } from './authenticate';
import type { EconomicAccess, TenantRef } from './economic-access';
import { fetchEntity } from './fetch-entity';
import { recheckDraftInvoices } from './recheck-drafts';
import { dropUnreadable, resolveDependencies, sharedReads } from './resolve-dependencies';

export interface SyncEntityInput extends TenantRef {
  kind: EntityKind;
  number: number;
  /** From a renumbering event: the number the entity had before. */
  oldNumber?: number;
  /** Orders and quotes: the state to look in first (from a listing); else the last stored state. */
  stateHint?: DocumentState;
  /** The oldest event this sync covers: when it was received and what sent it (for the sync-lag metric). */
  oldestEvent?: { receivedAt: string; source: string };
  /** When every event of the sync is a webhook's and none renumbers: when the newest of them arrived. */
  newestWebhookAt?: string;
}

/**
 * A sync that ended with the entity as e-conomic has it (synced, stale, deleted, absent): how long after
 * its oldest event was received. `trigger` is `webhook`, `reconcile`, `retry-failed` or `other`.
 */
export type SyncCommitted = (observation: { kind: EntityKind; trigger: string; lagSeconds: number }) => void;

/** The sync-lag metric's `trigger` of each internal source; a new source must choose one here. */
const TRIGGER_OF: Record<InternalSource, 'reconcile' | 'retry-failed' | 'other'> = {
  reconcile: 'reconcile',
  'retry-failed': 'retry-failed',
  'grant-healed': 'other',
  'kind-readable': 'other',
};

function triggerOf(source: string): string {
  if (isApiSource(source)) return 'webhook';
  // A history recorded by an older version may name a source this one does not know.
  return isInternalSource(source) ? TRIGGER_OF[source] : 'other';
}

export interface SyncEntityResult {
  outcome: SyncOutcome;
  /** Dependencies fetched and committed with the entity. */
  dependencies: number;
  /** Booked invoices: drafts found booked (gone in e-conomic) and marked deleted. */
  draftsDeleted: number[];
}

/**
 * How long after a webhook arrived a fetch must have started to be sure to read the change it announces.
 * e-conomic sends a webhook once the change is made; the margin covers the API host's clock (which stamps
 * the arrival) and the worker host's (which stamps the fetch) differing, and e-conomic's reads trailing
 * its writes by a moment.
 */
export const FETCH_COVERS_AFTER_MS = 1000;

/** Whether the stored version (or deletion) was fetched late enough to hold what the webhooks announce. */
function fetchCovers(stored: StoredEntity | undefined, newestWebhookAt: string | undefined): boolean {
  if (!stored || newestWebhookAt === undefined) return false;
  const arrived = Date.parse(newestWebhookAt);
  return Number.isFinite(arrived) && stored.syncedAt.getTime() - arrived >= FETCH_COVERS_AFTER_MS;
}

/** Rounds of fetch, resolve and commit a sync makes while its references do not hold. */
export const MAX_RESOLVE_ROUNDS = 3;

export function createSyncEntityActivity(deps: { store: EntityStore; access: EconomicAccess; onCommitted?: SyncCommitted }) {
  const { store } = deps;
  const committed = (input: SyncEntityInput, result: SyncEntityResult): SyncEntityResult => {
    const event = input.oldestEvent;
    if (event && deps.onCommitted && result.outcome !== 'skipped') {
      const lagSeconds = Math.max(0, (Date.now() - Date.parse(event.receivedAt)) / 1000);
      if (Number.isFinite(lagSeconds)) deps.onCommitted({ kind: input.kind, trigger: triggerOf(event.source), lagSeconds });
    }
    return result;
  };
  // This worker's syncs share their dependency reads in flight (./resolve-dependencies.ts).
  const shared = sharedReads();
  return {
    async syncEntity(input: SyncEntityInput): Promise<SyncEntityResult> {
      const context = Context.current();
      const sync = { workflowId: entityWorkflowId(input.tenant, input.kind, input.number) };
      // One read of what the sync needs from the store before it fetches: a renumbering that a failed
      // sync left unapplied (sync_state, applied by the next sync), the stored row and its references.
      const start = await store.syncStart(input.tenantId, input.kind, input.number);
      const oldNumber = input.oldNumber ?? start.pendingOldNumber;
      // Nothing to fetch: no grant opened, no call, nothing written, and no sync-lag observation (an
      // earlier sync committed what these webhooks announce, at a time this one does not know).
      if (oldNumber === undefined && fetchCovers(await start.find(input.tenantId, input.kind, input.number), input.newestWebhookAt)) {
        return { outcome: 'covered', dependencies: 0, draftsDeleted: [] };
      }
      const session = await deps.access.open(input, context.cancellationSignal);
      if (session.isForbidden(input.kind)) return { outcome: 'skipped', dependencies: 0, draftsDeleted: [] };
      await ensureGrantValidated(session);
      for (let round = 1; ; round += 1) {
        const lastRound = round >= MAX_RESOLVE_ROUNDS;
        // The first round reads stored rows from that read; after a failed round what did not hold was
        // the stored state, so it is read again.
        const stored: Pick<EntityStore, 'find' | 'findDependencies'> = round === 1 ? start : store;
        // The fetch's start orders versions that carry no lastUpdated: a slow fetch is not "newer".
        const fetchedAt = new Date().toISOString();
        let fetched;
        try {
          fetched = await session.run((client) => fetchEntity(client, stored, { ...input, oldNumber }, fetchedAt), input.kind);
        } catch (err) {
          // The first 403 of this kind: recorded by the session; the kind is skipped from now on.
          if (session.isForbidden(input.kind)) return { outcome: 'skipped', dependencies: 0, draftsDeleted: [] };
          throw err;
        }
        if (!fetched.record) {
          const outcome = await store.markDeleted(input.tenantId, input.kind, input.number, fetchedAt, { sync });
          return committed(input, { outcome, dependencies: 0, draftsDeleted: [] });
        }
        const record = fetched.record;
        // After a failed round every dependency is fetched again: the stored ones were what did not hold.
        const resolved = await resolveDependencies(session, stored, input.tenantId, record, { refresh: round > 1, shared });
        if (resolved.missing.length > 0) {
          // The entity may name a dependency under a number it has since left: fetch the entity again first.
          if (!lastRound) continue;
          const names = resolved.missing.map((d) => `${d.kind} ${d.number}`).join(', ');
          throw ApplicationFailure.nonRetryable(`${input.kind} ${input.number} references ${names}, which e-conomic does not have`, FAILURE_TYPES.dependencyMissing);
        }
        dropUnreadable(record, resolved.unreadable);
        let outcomes;
        try {
          outcomes = await store.commit(input.tenantId, [...resolved.records, record], { renumberedFrom: fetched.renumberedFrom, sync });
        } catch (err) {
          if (!isIntegrityViolation(err)) throw err;
          if (!lastRound) continue;
          throw ApplicationFailure.nonRetryable(
            `${input.kind} ${input.number} still violated a constraint after fetching it and its dependencies ${round} times: ${(err as Error).message}`,
            FAILURE_TYPES.integrityViolation,
          );
        }
        const written = outcomes.at(-1) === 'written';
        const draftsDeleted = input.kind === 'booked-invoice' && written ? await recheckDraftInvoices(session, store, input.tenantId, record) : [];
        return committed(input, { outcome: written ? 'synced' : 'stale', dependencies: resolved.records.length, draftsDeleted });
      }
    },
  };
}
