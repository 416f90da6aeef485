// Gives activities an e-conomic client for a tenant (docs/webhook.md, "The grant and the agreement"):
//   - before anything else, grant tokens webhooks brought are verified with `GET /self` and handed to the
//     binding decision in Postgres (src/access/grants.ts): a token of another agreement is refused and
//     never used for a data call;
//   - a broken grant whose periodic re-check is due is re-checked with `GET /self` (one worker claims it);
//   - a grant that is broken refuses at once (no e-conomic call, so no retry storm);
//   - a 401 marks the grant broken; a 403 marks only the entity kind it came from as forbidden;
//   - when a grant verifies after the tenant was broken or had none, the entities whose syncs were refused
//     meanwhile are handed to their workflows again (nothing is lost);
//   - every data call of a bound tenant passes its agreement's shared call budget and 429 pause
//     (src/access/call-budget.ts): syncs may use the whole budget, reconciliation (`priority: 'reconcile'`)
//     only up to its share.
// The token is decrypted for this activity only; it never leaves it.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { log as activityLog } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  adoptVerifiedGrant,
  claimRecheck,
  clearKindForbidden,
  dropCandidate,
  loadGrant,
  markBroken,
  markKindForbidden,
  candidateState,
  openGrant,
  releaseCandidate,
  type GrantCandidate,
  type StoredGrant,
} from '../src/access/grants';
import { createCallBudget, type CallBudget, type CallPriority } from '../src/access/call-budget';
import type { Database } from '../src/db/client';
import { createEconomicClient, isEconomicError, type CallCounter, type EconomicClient } from '../src/economic';
import { isEntityKind, type EntityKind } from '../src/shared/entities';
import { entityChange, type EntityChange } from '../src/shared/sync-signals';
import type { SecretBox } from '../src/secrets/secret-box';
import { createEntityStore } from '../src/store/entity-store';
import { FAILURE_TYPES, toActivityFailure } from './economic-failure';

export interface EconomicSettings {
  restUrl: string;
  projectsUrl: string;
  appSecretToken: string;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
  /** Calls per agreement per 24-hour window (ECONOMIC_DAILY_CALL_BUDGET); default 40,000. */
  dailyCallBudget?: number;
  /** Share of the budget reconciliation leaves to webhook syncs; default 0.2. */
  reconcileReserveShare?: number;
}

/** How a healed tenant's refused entities reach their workflows again (the reconciliation's port). */
export interface EntityNotifier {
  notify(change: EntityChange): Promise<void>;
}

export interface EconomicAccessDeps {
  db: Database;
  secretBox: SecretBox;
  economic: EconomicSettings;
  callCounter: CallCounter;
  entities?: EntityNotifier;
  /** How long a sync waits for another worker's verification of a new token (default VERIFICATION_WAIT_MS). */
  verificationWaitMs?: number;
  /** Where binding decisions are logged (never a token); the activity context's logger by default. */
  log?: (level: 'debug' | 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

export interface TenantRef {
  tenantId: number;
  tenant: string;
}

export interface EconomicSession {
  client: EconomicClient;
  agreementNumber: number | null;
  status: 'unverified' | 'ok' | 'broken';
  validatedAt: Date | null;
  /**
   * Runs a sequence of e-conomic calls, translating failures: a 401 marks the grant broken, a 403 marks the
   * entity kind it came from forbidden. With `kind`, a success clears that kind's 403 (it is readable again).
   */
  run<T>(work: (client: EconomicClient) => Promise<T>, kind?: EntityKind): Promise<T>;
  markOk(agreementNumber: number): Promise<void>;
  /** Whether e-conomic answered 403 for this kind and its re-check is not due yet: skip it, call nothing. */
  isForbidden(kind: EntityKind): boolean;
}

/**
 * How long a sync that finds no usable grant waits for another worker's `GET /self` of the tenant's new
 * token before it is retried instead: that call's own deadline is the client timeout.
 */
export const VERIFICATION_WAIT_MS = 10_000;

/** A grant a sync can call e-conomic with. */
function usable(grant: StoredGrant | undefined): boolean {
  return Boolean(grant?.token) && grant?.status !== 'broken';
}

/** Failure types of syncs that were refused for want of a usable grant: re-synced when a grant verifies. */
const CREDENTIAL_FAILURES = [FAILURE_TYPES.credentialsBroken, FAILURE_TYPES.credentialsRejected, FAILURE_TYPES.credentialsMissing];

/** The entity kind an e-conomic resource (`EconomicError.resource`) belongs to; undefined for `/self`. */
export function kindOfResource(resource: string): EntityKind | undefined {
  const [head, sub] = resource.split('/');
  if (head === 'customers') return 'customer';
  if (head === 'projects' || head?.startsWith('projects')) return 'project';
  if (head === 'orders') return 'order';
  if (head === 'quotes') return 'quote';
  if (head === 'invoices') return sub === 'drafts' ? 'draft-invoice' : 'booked-invoice';
  return undefined;
}

function defaultLog(level: 'debug' | 'info' | 'warn', message: string, fields: Record<string, unknown>): void {
  try {
    activityLog[level](message, fields);
  } catch {
    // Outside an activity (a test calling open() directly) there is no context logger.
  }
}

export function createEconomicAccess(deps: EconomicAccessDeps) {
  const log = deps.log ?? defaultLog;
  // The candidate verifications this worker's syncs are running, by tenant: another sync of the tenant
  // that finds no usable grant waits for it here (another worker's is polled: grantAfterVerification).
  const verifications = new Map<number, Promise<void>>();
  const verificationWaitMs = deps.verificationWaitMs ?? VERIFICATION_WAIT_MS;
  const budget: CallBudget = createCallBudget(deps.db, { dailyCalls: deps.economic.dailyCallBudget, reconcileReserveShare: deps.economic.reconcileReserveShare });
  const clientFor = (ref: TenantRef, token: string, signal?: AbortSignal, gate?: ReturnType<CallBudget['gate']>) =>
    createEconomicClient({
      restUrl: deps.economic.restUrl,
      projectsUrl: deps.economic.projectsUrl,
      appSecretToken: deps.economic.appSecretToken,
      grantToken: token,
      timeoutMs: deps.economic.timeoutMs,
      counter: deps.callCounter,
      agreementKey: ref.tenant,
      signal,
      gate,
    });

  /** `GET /self` with a token: its agreement, or undefined when e-conomic refuses the token (401). */
  async function selfAgreement(ref: TenantRef, token: string, signal?: AbortSignal): Promise<number | undefined> {
    try {
      return (await clientFor(ref, token, signal).getSelf()).agreementNumber;
    } catch (err) {
      if (isEconomicError(err) && (err.kind === 'unauthorized' || err.kind === 'forbidden')) return undefined;
      throw toActivityFailure(err);
    }
  }

  /** Hands every entity whose sync was refused for want of a usable grant to its workflow again. */
  async function resyncRefused(ref: TenantRef): Promise<void> {
    const entities = deps.entities;
    if (!entities) return;
    const rows = await createEntityStore(deps.db).failedSyncsOfTypes(ref.tenantId, CREDENTIAL_FAILURES);
    const receivedAt = new Date();
    for (const row of rows) {
      if (!isEntityKind(row.kind)) continue;
      const change = entityChange({ tenantId: ref.tenantId, tenant: ref.tenant, kind: row.kind, number: row.number }, { eventId: randomUUID(), source: 'grant-healed', receivedAt });
      await entities.notify(change);
    }
    if (rows.length > 0) log('info', "the tenant's grant verified again: re-syncing the entities refused meanwhile", { tenant: ref.tenant, entities: rows.length });
  }

  /** The kind is readable again; when it is projects, documents committed without theirs sync again. */
  async function kindReadableAgain(ref: TenantRef, kind: EntityKind): Promise<void> {
    log('info', 'e-conomic lets our app read this entity kind again', { tenant: ref.tenant, kind });
    if (kind !== 'project' || !deps.entities) return;
    const documents = await createEntityStore(deps.db).documentsWithUnresolvedProject(ref.tenantId);
    const receivedAt = new Date();
    for (const doc of documents) {
      await deps.entities.notify(entityChange({ tenantId: ref.tenantId, tenant: ref.tenant, ...doc }, { eventId: randomUUID(), source: 'kind-readable', receivedAt }));
    }
  }

  async function verifyCandidate(ref: TenantRef, candidate: GrantCandidate, signal?: AbortSignal): Promise<boolean> {
    let agreement: number | undefined;
    try {
      agreement = await selfAgreement(ref, candidate.token, signal);
    } catch (err) {
      await releaseCandidate(deps.db, ref.tenantId, candidate.fingerprint);
      throw err;
    }
    if (agreement === undefined) {
      await dropCandidate(deps.db, ref.tenantId, candidate.fingerprint);
      log('warn', 'e-conomic refused a grant token a webhook brought (GET /self); it was dropped, the grant in use is unchanged', { tenant: ref.tenant });
      return false;
    }
    const outcome = await adoptVerifiedGrant(deps.db, deps.secretBox, ref.tenantId, candidate.token, agreement);
    if (outcome.result === 'refused') {
      log('warn', 'refused a grant token of another e-conomic agreement: the tenant stays bound to its own', { tenant: ref.tenant, boundAgreement: outcome.boundAgreement, refusedAgreement: agreement });
      return false;
    }
    log('info', outcome.result === 'bound' ? 'bound the tenant to its e-conomic agreement' : 'a new grant token of the bound agreement is now in use', { tenant: ref.tenant, agreement });
    return outcome.healed;
  }

  /**
   * The grant once the verification of a new token that another sync claimed has ended, rather than a
   * failed attempt retried a second later (a failed activity in the Temporal UI for every first sync of a
   * new tenant). A verification of this worker is awaited; another worker's is polled in Postgres, up to
   * `verificationWaitMs`. Retryable when it did not end in a usable grant while a token is still to be
   * verified: the retry claims it. With no token left to verify, the grant is returned as it is.
   */
  async function grantAfterVerification(ref: TenantRef, signal?: AbortSignal): Promise<StoredGrant | undefined> {
    const deadline = Date.now() + verificationWaitMs;
    // The token is still a candidate (e-conomic did not answer its GET /self): the retry claims it.
    const notVerifiedYet = () =>
      ApplicationFailure.retryable(`the new e-conomic grant of tenant ${ref.tenant} could not be verified yet; this sync retries`, FAILURE_TYPES.transient);
    let logged = false;
    const waiting = () => {
      if (logged) return;
      logged = true;
      log('debug', 'waiting for the new grant token another sync is verifying', { tenant: ref.tenant });
    };
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      const inFlight = verifications.get(ref.tenantId);
      if (inFlight) {
        waiting();
        if (!(await inFlight.then(() => true, () => false))) throw notVerifiedYet();
        const grant = await loadGrant(deps.db, deps.secretBox, ref.tenantId);
        if (usable(grant) || (await candidateState(deps.db, ref.tenantId)) === 'none') return grant;
        throw notVerifiedYet();
      }
      const state = await candidateState(deps.db, ref.tenantId);
      if (state === 'verifying') {
        waiting();
        if (Date.now() >= deadline) {
          throw ApplicationFailure.retryable(`a new e-conomic grant of tenant ${ref.tenant} is still being verified; this sync retries`, FAILURE_TYPES.transient);
        }
        await sleep(pause, undefined, { signal });
        continue;
      }
      // No verification in flight: it ended (adopted, dropped or released) or none began. A grant adopted
      // just before the read above was not in the caller's read yet.
      const grant = await loadGrant(deps.db, deps.secretBox, ref.tenantId);
      if (usable(grant) || state === 'none') return grant;
      throw notVerifiedYet();
    }
  }

  return {
    /** For reconciliation (./forbidden-kinds.ts): a listing of a kind that was forbidden succeeded. */
    async kindReadable(ref: TenantRef, kind: EntityKind): Promise<void> {
      if (await clearKindForbidden(deps.db, ref.tenantId, kind)) await kindReadableAgain(ref, kind);
    },

    /**
     * A session on the tenant's grant. `priority`: whose share of the agreement's call budget its calls
     * take (webhook syncs the whole, reconciliation its share; see src/access/call-budget.ts).
     */
    async open(ref: TenantRef, signal?: AbortSignal, options: { priority?: CallPriority } = {}): Promise<EconomicSession> {
      let healed = false;
      // One statement: the candidates this sync claims, the grant and the forbidden kinds.
      const opening = await openGrant(deps.db, deps.secretBox, ref.tenantId);
      if (opening.claimed.length > 0) {
        const verifying = (async () => {
          for (const candidate of opening.claimed) {
            if (await verifyCandidate(ref, candidate, signal)) healed = true;
          }
        })();
        verifications.set(ref.tenantId, verifying);
        try {
          await verifying;
        } finally {
          if (verifications.get(ref.tenantId) === verifying) verifications.delete(ref.tenantId);
        }
      }
      // A verified candidate changed the grant: read it as it is now.
      let grant = opening.claimed.length > 0 ? await loadGrant(deps.db, deps.secretBox, ref.tenantId) : opening.grant;
      if (grant?.token && grant.status === 'broken' && (grant.nextCheckAt === null || grant.nextCheckAt.getTime() <= Date.now()) && (await claimRecheck(deps.db, ref.tenantId))) {
        const agreement = await selfAgreement(ref, grant.token, signal);
        if (agreement !== undefined) {
          const outcome = await adoptVerifiedGrant(deps.db, deps.secretBox, ref.tenantId, grant.token, agreement);
          if (outcome.result !== 'refused' && outcome.healed) healed = true;
          grant = await loadGrant(deps.db, deps.secretBox, ref.tenantId);
        }
      }
      if (healed) await resyncRefused(ref);
      // A new token of the tenant is being verified by another sync (a tenant's first webhooks arrive in a
      // burst, each with the token): wait for it and read the grant it left.
      if (!usable(grant)) grant = await grantAfterVerification(ref, signal);
      if (!grant?.token || !grant.fingerprint) {
        throw ApplicationFailure.nonRetryable(
          `tenant ${ref.tenant} has no verified e-conomic grant yet: it arrives with a webhook (eConomicAPIKey) and is verified before use`,
          FAILURE_TYPES.credentialsMissing,
        );
      }
      if (grant.status === 'broken') {
        throw ApplicationFailure.nonRetryable(
          `tenant ${ref.tenant}'s e-conomic grant is marked broken (${grant.statusReason ?? 'refused by e-conomic'}); a grant that verifies heals it (a new eConomicAPIKey, the same one sent again, or the periodic re-check)`,
          FAILURE_TYPES.credentialsBroken,
        );
      }
      const token = grant.token;
      const fingerprint = grant.fingerprint;
      // kind → whether its re-check is due (then the next call tries it); absent: readable.
      const forbidden = new Map([...opening.kinds].map(([kind, a]) => [kind, a.due]));
      // Bound tenants only: an unbound one has no agreement yet (its first `GET /self` decides it).
      const gate = grant.agreementNumber === null ? undefined : budget.gate(grant.agreementNumber, options.priority ?? 'sync');
      const client = clientFor(ref, token, signal, gate);
      return {
        client,
        agreementNumber: grant.agreementNumber,
        status: grant.status,
        validatedAt: grant.validatedAt,
        isForbidden: (kind) => forbidden.get(kind) === false,
        async run(work, kind) {
          try {
            const result = await work(client);
            if (kind !== undefined && forbidden.has(kind)) {
              forbidden.delete(kind);
              if (await clearKindForbidden(deps.db, ref.tenantId, kind)) await kindReadableAgain(ref, kind);
            }
            return result;
          } catch (err) {
            const failure = toActivityFailure(err);
            if (isEconomicError(err) && err.kind === 'unauthorized') {
              await markBroken(deps.db, ref.tenantId, fingerprint, failure.message);
            } else if (isEconomicError(err) && err.kind === 'forbidden') {
              const forbiddenKind = kindOfResource(err.resource) ?? kind;
              if (forbiddenKind !== undefined) {
                await markKindForbidden(deps.db, ref.tenantId, forbiddenKind, failure.message);
                forbidden.set(forbiddenKind, false);
              }
            }
            throw failure;
          }
        },
        markOk: async (agreementNumber) => {
          const outcome = await adoptVerifiedGrant(deps.db, deps.secretBox, ref.tenantId, token, agreementNumber);
          if (outcome.result === 'refused') {
            throw ApplicationFailure.nonRetryable(`tenant ${ref.tenant}'s grant now answers for another e-conomic agreement; it is not used`, FAILURE_TYPES.credentialsBroken);
          }
        },
      };
    },
  };
}

export type EconomicAccess = ReturnType<typeof createEconomicAccess>;
