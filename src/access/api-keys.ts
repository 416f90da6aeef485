// Our API keys (the `APIKey` in the webhook URL): random GUIDs in upper-case form, of which only a
// SHA-256 hash and an 8-character prefix are stored. The prefix finds candidate rows; the hash is
// compared in constant time. Unknown and revoked keys are indistinguishable to callers.
import { createHash, randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { apiKeys, tenantCredentials, tenants } from '../db/schema';
import { safeEqual } from '../secrets/secret-box';
import type { CredentialStatus, GrantState } from './grants';
import { TENANT_NAME_PATTERN } from '../shared/entities';
import { createBatchLoader } from '../util/batch-loader';
import { withTimeout } from '../util/with-timeout';

export const API_KEY_PREFIX_LENGTH = 8;
const GUID_PATTERN = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

export class AccessError extends Error {
  override name = 'AccessError';
}

/** Keys are compared in their canonical (trimmed, upper-case) form, so a lower-cased paste still works. */
export function normalizeApiKey(key: string): string {
  return key.trim().toUpperCase();
}

export function looksLikeApiKey(key: string): boolean {
  return GUID_PATTERN.test(normalizeApiKey(key));
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(normalizeApiKey(key), 'utf8').digest('hex');
}

export function apiKeyPrefix(key: string): string {
  return normalizeApiKey(key).slice(0, API_KEY_PREFIX_LENGTH);
}

export function generateApiKey(): string {
  return randomUUID().toUpperCase();
}

export function validateTenantName(name: unknown): string {
  if (typeof name !== 'string' || !TENANT_NAME_PATTERN.test(name)) {
    throw new AccessError(
      `invalid tenant name ${JSON.stringify(name)}: use 1-63 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  return name;
}

/** Creates the tenant if it is new; returns its id. */
export async function ensureTenant(db: Database, name: string): Promise<{ id: number; created: boolean }> {
  validateTenantName(name);
  const inserted = await db.insert(tenants).values({ name }).onConflictDoNothing({ target: tenants.name }).returning({ id: tenants.id });
  if (inserted[0]) return { id: inserted[0].id, created: true };
  const [existing] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, name));
  if (!existing) throw new AccessError(`tenant "${name}" could not be created`);
  return { id: existing.id, created: false };
}

export interface CreatedApiKey {
  key: string;
  prefix: string;
  tenantId: number;
  tenantCreated: boolean;
}

export async function createApiKey(db: Database, options: { tenant: string; description?: string }): Promise<CreatedApiKey> {
  const tenant = await ensureTenant(db, options.tenant);
  const key = generateApiKey();
  const prefix = apiKeyPrefix(key);
  await db.insert(apiKeys).values({ tenantId: tenant.id, prefix, keyHash: hashApiKey(key), description: options.description ?? null });
  return { key, prefix, tenantId: tenant.id, tenantCreated: tenant.created };
}

export interface ApiKeyListing {
  prefix: string;
  tenant: string;
  description: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export async function listApiKeys(db: Database, tenant?: string): Promise<ApiKeyListing[]> {
  return db
    .select({ prefix: apiKeys.prefix, tenant: tenants.name, description: apiKeys.description, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(tenant === undefined ? undefined : eq(tenants.name, tenant))
    .orderBy(asc(tenants.name), asc(apiKeys.createdAt), asc(apiKeys.id));
}

/** Revokes the key; returns its tenant and prefix, or undefined when no such key exists. */
export async function revokeApiKey(db: Database, key: string): Promise<{ prefix: string; tenant: string; alreadyRevoked: boolean } | undefined> {
  const hash = hashApiKey(key);
  const [row] = await db
    .select({ id: apiKeys.id, prefix: apiKeys.prefix, tenant: tenants.name, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(eq(apiKeys.keyHash, hash));
  if (!row) return undefined;
  if (!row.revokedAt) {
    await db
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(apiKeys.id, row.id), isNull(apiKeys.revokedAt)));
  }
  return { prefix: row.prefix, tenant: row.tenant, alreadyRevoked: row.revokedAt !== null };
}

export interface AuthenticatedKey {
  tenantId: number;
  tenant: string;
  /** The key's SHA-256 hash: identifies it (rate limit, cache) without holding the key itself. */
  keyHash: string;
  prefix: string;
}

export type AuthResult =
  | {
      ok: true;
      key: AuthenticatedKey;
      /**
       * The tenant's grant state, read in the same query as the key (so the webhook's grant check costs no
       * second read); absent when the key was taken from the last known answer because the database failed.
       */
      grant?: { current: GrantState | undefined };
    }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'unavailable' };

export interface ApiKeyAuthenticator {
  authenticate(key: unknown): Promise<AuthResult>;
  /**
   * Whether this key's last check (by this process) found it valid, without asking the database: the
   * webhook lets such keys through while their client address is refused for failed authentications,
   * so that e-conomic's shared senders keep delivering for every other tenant.
   */
  recentlyValid(key: unknown): boolean;
}

/**
 * Authenticates against the database on every request (a revocation takes effect on the next one), and
 * reads the tenant's grant state with the key (src/ingest/grant-recorder.ts checks the webhook's token
 * against it).
 * The lookups of concurrent requests share one query (src/util/batch-loader.ts: each request's answer
 * comes from a read begun after it arrived, so this stays exact).
 * When the database cannot be reached in `timeoutMs`, the last answer known for that key hash is used;
 * a key never seen before is then `unavailable` (the caller answers 503, not 401).
 */
export function createApiKeyAuthenticator(db: Database, options: { timeoutMs?: number; cacheSize?: number } = {}): ApiKeyAuthenticator {
  const timeoutMs = options.timeoutMs ?? 2000;
  const cacheSize = options.cacheSize ?? 10_000;
  const lastKnown = new Map<string, AuthenticatedKey | null>();
  type KeyRow = {
    tenantId: number;
    tenant: string;
    prefix: string;
    keyHash: string;
    revokedAt: Date | null;
    grantFingerprint: string | null;
    grantStatus: CredentialStatus | null;
  };
  const byPrefix = createBatchLoader<string, KeyRow[]>(async (prefixes) => {
    const rows = await db
      .select({
        tenantId: apiKeys.tenantId,
        tenant: tenants.name,
        prefix: apiKeys.prefix,
        keyHash: apiKeys.keyHash,
        revokedAt: apiKeys.revokedAt,
        grantFingerprint: tenantCredentials.grantFingerprint,
        grantStatus: tenantCredentials.status,
      })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .leftJoin(tenantCredentials, eq(tenantCredentials.tenantId, apiKeys.tenantId))
      .where(inArray(apiKeys.prefix, prefixes));
    const found = new Map<string, KeyRow[]>();
    for (const row of rows) found.set(row.prefix, [...(found.get(row.prefix) ?? []), row]);
    return found;
  });

  const remember = (hash: string, value: AuthenticatedKey | null) => {
    lastKnown.delete(hash);
    lastKnown.set(hash, value);
    if (lastKnown.size > cacheSize) {
      const oldest = lastKnown.keys().next();
      if (!oldest.done) lastKnown.delete(oldest.value);
    }
  };

  return {
    recentlyValid(key) {
      if (typeof key !== 'string' || !looksLikeApiKey(key)) return false;
      return Boolean(lastKnown.get(hashApiKey(key)));
    },
    async authenticate(key) {
      if (typeof key !== 'string' || !looksLikeApiKey(key)) return { ok: false, reason: 'invalid' };
      const hash = hashApiKey(key);
      const prefix = apiKeyPrefix(key);
      let found: AuthenticatedKey | null;
      let grant: { current: GrantState | undefined } | undefined;
      try {
        const rows = (await withTimeout(byPrefix.load(prefix), timeoutMs)) ?? [];
        // Compare every candidate (no early exit), in constant time.
        let match: (typeof rows)[number] | undefined;
        for (const row of rows) if (safeEqual(row.keyHash, hash)) match = row;
        found = match && !match.revokedAt ? { tenantId: match.tenantId, tenant: match.tenant, keyHash: hash, prefix } : null;
        if (match) grant = { current: match.grantStatus === null ? undefined : { fingerprint: match.grantFingerprint, status: match.grantStatus } };
        remember(hash, found);
      } catch {
        const cached = lastKnown.get(hash);
        if (cached === undefined) return { ok: false, reason: 'unavailable' };
        found = cached;
      }
      return found ? { ok: true, key: found, ...(grant ? { grant } : {}) } : { ok: false, reason: 'invalid' };
    },
  };
}
