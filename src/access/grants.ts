// The tenant's e-conomic agreement grant token: stored encrypted, replaced when the customer sends a new
// one, and marked broken when e-conomic refuses it. Workflows only ever see the tenant's id; activities
// call loadGrant to get the token for the duration of one API call sequence.
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { tenantCredentials } from '../db/schema';
import { safeEqual, type SecretBox } from '../secrets/secret-box';

export type CredentialStatus = 'unverified' | 'ok' | 'broken';

export interface StoredGrant {
  token: string;
  status: CredentialStatus;
  statusReason: string | null;
  agreementNumber: number | null;
  validatedAt: Date | null;
  updatedAt: Date;
}

/**
 * Stores the grant if it differs from the stored one (compared by keyed fingerprint, in constant time).
 * A new grant resets the status to `unverified`: a customer fixing a revoked grant heals the tenant.
 * Returns whether anything changed.
 */
export async function storeGrant(db: Database, box: SecretBox, tenantId: number, token: string): Promise<boolean> {
  const fingerprint = box.fingerprint(token);
  const [current] = await db
    .select({ fingerprint: tenantCredentials.grantFingerprint })
    .from(tenantCredentials)
    .where(eq(tenantCredentials.tenantId, tenantId));
  if (current && safeEqual(current.fingerprint, fingerprint)) return false;
  const now = new Date();
  await db
    .insert(tenantCredentials)
    .values({ tenantId, grantCiphertext: box.encrypt(token), grantFingerprint: fingerprint, status: 'unverified', updatedAt: now })
    .onConflictDoUpdate({
      target: tenantCredentials.tenantId,
      set: {
        grantCiphertext: sql`excluded.grant_ciphertext`,
        grantFingerprint: sql`excluded.grant_fingerprint`,
        status: 'unverified',
        statusReason: null,
        agreementNumber: null,
        validatedAt: null,
        updatedAt: now,
      },
    });
  return true;
}

export async function loadGrant(db: Database, box: SecretBox, tenantId: number): Promise<StoredGrant | undefined> {
  const [row] = await db.select().from(tenantCredentials).where(eq(tenantCredentials.tenantId, tenantId));
  if (!row) return undefined;
  return {
    token: box.decrypt(row.grantCiphertext),
    status: row.status,
    statusReason: row.statusReason,
    agreementNumber: row.agreementNumber,
    validatedAt: row.validatedAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * Records the outcome of validating the grant. `expectedFingerprint` guards against marking a grant
 * broken that the customer replaced in the meantime.
 */
export async function markGrant(
  db: Database,
  box: SecretBox,
  tenantId: number,
  token: string,
  outcome: { status: 'ok'; agreementNumber: number } | { status: 'broken'; reason: string },
): Promise<void> {
  const now = new Date();
  await db
    .update(tenantCredentials)
    .set(
      outcome.status === 'ok'
        ? { status: 'ok', statusReason: null, agreementNumber: outcome.agreementNumber, validatedAt: now }
        : { status: 'broken', statusReason: outcome.reason },
    )
    .where(sql`${tenantCredentials.tenantId} = ${tenantId} and ${tenantCredentials.grantFingerprint} = ${box.fingerprint(token)}`);
}
