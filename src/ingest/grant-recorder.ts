// Keeps each tenant's stored grant token current from the webhooks that carry it. storeGrant is a
// no-op when the token is unchanged; an in-memory fingerprint per tenant makes that common case free
// of any database round trip. Failures are logged (without the token) and never fail the webhook.
import { storeGrant } from '../access/grants';
import { withTimeout } from '../util/with-timeout';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import { safeEqual, type SecretBox } from '../secrets/secret-box';
import { errorText } from './ingestor';

export interface GrantRecorder {
  record(tenantId: number, token: string): Promise<void>;
}

export interface GrantRecorderOptions {
  db: Database;
  box: SecretBox;
  log: Logger;
  timeoutMs?: number;
  /** Called after a tenant's grant changed (e.g. its first one): the service ensures its reconciliation schedule. */
  onNewGrant?: (tenantId: number) => Promise<void>;
}

export function createGrantRecorder(options: GrantRecorderOptions): GrantRecorder {
  const known = new Map<number, string>();
  const timeoutMs = options.timeoutMs ?? 2000;
  return {
    async record(tenantId, token) {
      const fingerprint = options.box.fingerprint(token);
      const cached = known.get(tenantId);
      if (cached !== undefined && safeEqual(cached, fingerprint)) return;
      try {
        const changed = await withTimeout(storeGrant(options.db, options.box, tenantId, token), timeoutMs, 'grant store');
        known.set(tenantId, fingerprint);
        if (changed) {
          options.log.info({ tenantId }, 'stored a new grant token for the tenant');
          options.onNewGrant?.(tenantId).catch((err: unknown) =>
            options.log.warn({ tenantId, err: errorText(err) }, 'could not act on the new grant; the next start retries'),
          );
        }
      } catch (err) {
        known.delete(tenantId);
        options.log.warn({ tenantId, err: errorText(err) }, 'could not store the grant token; the next webhook tries again');
      }
    },
  };
}
