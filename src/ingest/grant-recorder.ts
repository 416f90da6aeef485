// Hands each grant token a webhook carries to the tenant's credentials (src/access/grants.ts): a token
// other than the one in use is stored as a *candidate* that an activity verifies with `GET /self` before
// it is used for anything (docs/webhook.md, "The grant and the agreement"); the token in use sent again
// while broken makes its re-check due now. The HTTP request never calls e-conomic. There is no
// per-process cache: every webhook's tenant is read after the webhook arrived (with its API key, in the
// same query: src/access/api-keys.ts), which keeps every API process exact after a 401 or an `access
// unbind`; the reads of concurrent webhooks share one query
// (src/util/batch-loader.ts), and so do their candidate writes (one statement per batch, each token
// encrypted once per batch), so a burst costs a few statements, not one or two per webhook: a tenant
// whose grant no worker has verified yet (a new tenant's first burst) would otherwise write once per
// webhook. Failures are logged (without the token) and never fail the webhook.
import { candidateKey, readGrantStates, recordKnownGrant, storeCandidates, type CandidateOutcome, type GrantState } from '../access/grants';
import { createBatchLoader } from '../util/batch-loader';
import { withTimeout } from '../util/with-timeout';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import type { SecretBox } from '../secrets/secret-box';
import { errorText } from './ingestor';

export interface GrantRecorder {
  /** `read`: the tenant's grant state as read after the webhook arrived (with its API key); none: read here. */
  record(tenantId: number, token: string, read?: { current: GrantState | undefined }): Promise<void>;
}

export interface GrantRecorderOptions {
  db: Database;
  box: SecretBox;
  log: Logger;
  timeoutMs?: number;
  /** Called after a tenant got a new candidate grant (e.g. its first one): the service ensures its reconciliation schedule. */
  onNewGrant?: (tenantId: number) => Promise<void>;
}

const CAPPED_WARN_EVERY_MS = 60_000;

export function createGrantRecorder(options: GrantRecorderOptions): GrantRecorder {
  const timeoutMs = options.timeoutMs ?? 2000;
  const cappedWarnedAt = new Map<number, number>();
  const states = createBatchLoader<number, GrantState>((tenantIds) => readGrantStates(options.db, tenantIds));
  // The tokens of the candidates waiting for the next batch, by candidateKey; read once when it is written.
  const tokens = new Map<string, { tenantId: number; fingerprint: string; token: string }>();
  // Every webhook waiting on one key gets the same object: the first to see a new candidate announces it.
  const candidates = createBatchLoader<string, { outcome: CandidateOutcome; announced: boolean }>(async (keys) => {
    const rows = keys.flatMap((key) => {
      const t = tokens.get(key);
      tokens.delete(key);
      return t ? [{ tenantId: t.tenantId, fingerprint: t.fingerprint, ciphertext: options.box.encrypt(t.token) }] : [];
    });
    const stored = await storeCandidates(options.db, rows);
    return new Map([...stored].map(([key, outcome]) => [key, { outcome, announced: false }]));
  });
  const record = async (tenantId: number, token: string, read: { current: GrantState | undefined } | undefined): Promise<CandidateOutcome> => {
    const fingerprint = options.box.fingerprint(token);
    const current = read ? read.current : await states.load(tenantId);
    const known = await recordKnownGrant(options.db, tenantId, fingerprint, current);
    if (known) return known;
    const key = candidateKey(tenantId, fingerprint);
    tokens.set(key, { tenantId, fingerprint, token });
    const stored = await candidates.load(key);
    if (stored?.outcome !== 'candidate') return stored?.outcome ?? 'unchanged';
    if (stored.announced) return 'unchanged';
    stored.announced = true;
    return 'candidate';
  };
  return {
    async record(tenantId, token, read) {
      try {
        const outcome = await withTimeout(record(tenantId, token, read), timeoutMs, 'grant store');
        if (outcome === 'candidate') {
          options.log.info({ tenantId }, 'a webhook brought a new grant token for the tenant; the next sync verifies it before using it');
          options.onNewGrant?.(tenantId).catch((err: unknown) =>
            options.log.warn({ tenantId, err: errorText(err) }, 'could not act on the new grant; the next start retries'),
          );
        } else if (outcome === 'capped' && Date.now() - (cappedWarnedAt.get(tenantId) ?? -Infinity) >= CAPPED_WARN_EVERY_MS) {
          // Once a minute per tenant: a client spraying tokens must not flood the log either.
          if (cappedWarnedAt.size > 10_000) cappedWarnedAt.clear();
          cappedWarnedAt.set(tenantId, Date.now());
          options.log.warn({ tenantId }, 'a webhook brought yet another unverified grant token for the tenant; ignored until the pending ones are verified');
        } else if (outcome === 'recheck') {
          options.log.info({ tenantId }, "the tenant's broken grant was sent again; the next sync re-checks it");
        }
      } catch (err) {
        options.log.warn({ tenantId, err: errorText(err) }, 'could not store the grant token; the next webhook tries again');
      }
    },
  };
}
