// Gives activities an e-conomic client for a tenant: decrypts the tenant's grant for this call only,
// refuses at once (no e-conomic call, so no retry storm) when the grant is known to be broken, and marks
// the grant broken when e-conomic refuses it.
import { ApplicationFailure } from '@temporalio/common';
import { loadGrant, markGrant } from '../src/access/grants';
import type { Database } from '../src/db/client';
import { createEconomicClient, type CallCounter, type EconomicClient } from '../src/economic';
import type { SecretBox } from '../src/secrets/secret-box';
import { FAILURE_TYPES, isCredentialRefusal, toActivityFailure } from './economic-failure';

export interface EconomicSettings {
  restUrl: string;
  projectsUrl: string;
  appSecretToken: string;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

export interface EconomicAccessDeps {
  db: Database;
  secretBox: SecretBox;
  economic: EconomicSettings;
  callCounter: CallCounter;
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
  /** Runs a sequence of e-conomic calls, translating failures and marking refused grants broken. */
  run<T>(work: (client: EconomicClient) => Promise<T>): Promise<T>;
  markOk(agreementNumber: number): Promise<void>;
}

export function createEconomicAccess(deps: EconomicAccessDeps) {
  return {
    async open(ref: TenantRef, signal?: AbortSignal): Promise<EconomicSession> {
      const grant = await loadGrant(deps.db, deps.secretBox, ref.tenantId);
      if (!grant) {
        throw ApplicationFailure.nonRetryable(
          `tenant ${ref.tenant} has no e-conomic grant yet: it arrives with the first webhook (eConomicAPIKey)`,
          FAILURE_TYPES.credentialsMissing,
        );
      }
      if (grant.status === 'broken') {
        throw ApplicationFailure.nonRetryable(
          `tenant ${ref.tenant}'s e-conomic grant is marked broken (${grant.statusReason ?? 'refused by e-conomic'}); a webhook with a new eConomicAPIKey heals it`,
          FAILURE_TYPES.credentialsBroken,
        );
      }
      const client = createEconomicClient({
        restUrl: deps.economic.restUrl,
        projectsUrl: deps.economic.projectsUrl,
        appSecretToken: deps.economic.appSecretToken,
        grantToken: grant.token,
        timeoutMs: deps.economic.timeoutMs,
        counter: deps.callCounter,
        agreementKey: ref.tenant,
        signal,
      });
      return {
        client,
        agreementNumber: grant.agreementNumber,
        status: grant.status,
        validatedAt: grant.validatedAt,
        async run(work) {
          try {
            return await work(client);
          } catch (err) {
            if (isCredentialRefusal(err)) {
              const failure = toActivityFailure(err);
              await markGrant(deps.db, deps.secretBox, ref.tenantId, grant.token, { status: 'broken', reason: failure.message });
              throw failure;
            }
            throw toActivityFailure(err);
          }
        },
        markOk: (agreementNumber) => markGrant(deps.db, deps.secretBox, ref.tenantId, grant.token, { status: 'ok', agreementNumber }),
      };
    },
  };
}

export type EconomicAccess = ReturnType<typeof createEconomicAccess>;
