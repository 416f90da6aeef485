// Hands each grant token a webhook carries to the tenant's credentials (src/access/grants.ts): a token
// other than the one in use is stored as a *candidate* that an activity verifies with `GET /self` before
// it is used for anything (docs/webhook.md, "The grant and the agreement"); the token in use sent again
// while broken makes its re-check due now. The HTTP request never calls e-conomic. There is no
// per-process cache: every webhook's tenant is read after the webhook arrived, which keeps every API
// process exact after a 401 or an `access unbind`; the reads of concurrent webhooks share one query
// (src/util/batch-loader.ts), so a burst costs a few reads, not one per webhook. Failures are logged
// (without the token) and never fail the webhook.
import { readGrantStates, recordCandidate, type GrantState } from '../access/grants';
import { createBatchLoader } from '../util/batch-loader';
import { withTimeout } from '../util/with-timeout';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import type { SecretBox } from '../secrets/secret-box';
import { errorText } from './ingestor';

export interface GrantRecorder {
  record(tenantId: number, token: string): Promise<void>;
}

export interface GrantRecorderOptions {
  db: Database;
  box: SecretBox;
  log: Logger;
  timeoutMs?: number;
  /** Called after a tenant got a new candidate grant (e.g. its first one): the service ensures its reconciliation schedule. */
  onNewGrant?: (tenantId: number) => Promise<void>;
}

export function createGrantRecorder(options: GrantRecorderOptions): GrantRecorder {
  const timeoutMs = options.timeoutMs ?? 2000;
  const states = createBatchLoader<number, GrantState>((tenantIds) => readGrantStates(options.db, tenantIds));
  const record = async (tenantId: number, token: string) => {
    const current = await states.load(tenantId);
    return recordCandidate(options.db, options.box, tenantId, token, { current });
  };
  return {
    async record(tenantId, token) {
      try {
        const outcome = await withTimeout(record(tenantId, token), timeoutMs, 'grant store');
        if (outcome === 'candidate') {
          options.log.info({ tenantId }, 'a webhook brought a new grant token for the tenant; the next sync verifies it before using it');
          options.onNewGrant?.(tenantId).catch((err: unknown) =>
            options.log.warn({ tenantId, err: errorText(err) }, 'could not act on the new grant; the next start retries'),
          );
        } else if (outcome === 'recheck') {
          options.log.info({ tenantId }, "the tenant's broken grant was sent again; the next sync re-checks it");
        }
      } catch (err) {
        options.log.warn({ tenantId, err: errorText(err) }, 'could not store the grant token; the next webhook tries again');
      }
    },
  };
}
