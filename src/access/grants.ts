// The tenant's e-conomic agreement grant and the agreement binding (docs/webhook.md, "The grant and the
// agreement"). A webhook only ever stores a *candidate* token; an activity verifies it with `GET /self` and
// then calls adoptVerifiedGrant, whose conditional write in Postgres decides, for every API and worker
// process at once: an unbound tenant binds to the token's agreement, a token of the bound agreement becomes
// the grant in use, a token of another agreement is refused (kept only as a fingerprint). A 401 marks the
// grant broken until a grant verifies again; a periodic `/self` re-check (next_check_at, shared by every
// worker) heals a grant the customer restored. A 403 is recorded per entity kind (tenant_kind_access) and
// never touches the credentials. Workflows only ever see the tenant's id; tokens stay in activities.
import { and, eq, inArray, sql } from 'drizzle-orm';
import { queryRows, type Database } from '../db/client';
import { grantCandidates, tenantCredentials, tenantKindAccess, tenants } from '../db/schema';
import { safeEqual, type SecretBox } from '../secrets/secret-box';

export type CredentialStatus = 'unverified' | 'ok' | 'broken';

/** First re-check of a broken grant after this long, doubling per failed re-check up to the maximum. */
export const BROKEN_RECHECK_BASE_MS = 60_000;
export const BROKEN_RECHECK_MAX_MS = 6 * 3600_000;
/** The same broken token sent again makes its re-check due, but no sooner than this after the last one. */
export const RESEND_RECHECK_MIN_MS = 30_000;
/** A kind e-conomic answered 403 for is tried again after this long. */
export const FORBIDDEN_RECHECK_MS = 6 * 3600_000;

export interface StoredGrant {
  /** The grant in use; undefined while no grant verified yet (or after `access unbind`). */
  token: string | undefined;
  fingerprint: string | null;
  status: CredentialStatus;
  statusReason: string | null;
  agreementNumber: number | null;
  validatedAt: Date | null;
  updatedAt: Date;
  nextCheckAt: Date | null;
  refusedAgreementNumber: number | null;
}

export interface GrantCandidate {
  token: string;
  fingerprint: string;
}

export type CandidateOutcome = 'unchanged' | 'candidate' | 'recheck' | 'capped';

/**
 * Unverified tokens kept per tenant. Each costs one `GET /self` when a sync verifies it, so a client holding
 * a valid API key cannot make us store, and call e-conomic for, every token it invents: beyond this many
 * a new token is ignored (outcome `capped`) until verification has worked through the pending ones. A
 * customer's real new token is in every webhook they send, so it gets in once there is room.
 */
export const MAX_PENDING_CANDIDATES = 8;

/**
 * Records the token a webhook brought. The grant in use is never replaced here: a different token waits as a
 * candidate for an activity to verify it; the token in use sent again while broken makes its re-check due
 * now (the customer fixed the app in e-conomic), or RESEND_RECHECK_MIN_MS after the last check, so a
 * burst of webhooks with a revoked token costs one `/self` call, not one each; a token refused before is ignored.
 */
export async function recordCandidate(
  db: Database,
  box: SecretBox,
  tenantId: number,
  token: string,
  /** The tenant's credentials row as read after the webhook arrived (readGrantStates), to save the read. */
  read?: { current: GrantState | undefined },
): Promise<CandidateOutcome> {
  const fingerprint = box.fingerprint(token);
  const current = read ? read.current : (await readGrantStates(db, [tenantId])).get(tenantId);
  const known = await recordKnownGrant(db, tenantId, fingerprint, current);
  if (known) return known;
  const stored = await storeCandidates(db, [{ tenantId, fingerprint, ciphertext: box.encrypt(token) }]);
  return stored.get(candidateKey(tenantId, fingerprint)) ?? 'unchanged';
}

/**
 * The token is the grant in use: nothing to store (`unchanged`), or, while that grant is broken, its
 * re-check made due (`recheck`). Undefined: another token, a candidate.
 */
export async function recordKnownGrant(db: Database, tenantId: number, fingerprint: string, current: GrantState | undefined): Promise<CandidateOutcome | undefined> {
  if (!current?.fingerprint || !safeEqual(current.fingerprint, fingerprint)) return undefined;
  if (current.status !== 'broken') return 'unchanged';
  const notBefore = sql`coalesce(${tenantCredentials.lastCheckAt}, now()) + ${RESEND_RECHECK_MIN_MS}::bigint * interval '1 millisecond'`;
  await db
    .update(tenantCredentials)
    .set({ nextCheckAt: sql`least(${tenantCredentials.nextCheckAt}, greatest(now(), ${notBefore}))` })
    // A null next_check_at is due already (see claimRecheck).
    .where(and(eq(tenantCredentials.tenantId, tenantId), eq(tenantCredentials.grantFingerprint, fingerprint), eq(tenantCredentials.status, 'broken'), sql`${tenantCredentials.nextCheckAt} is not null`));
  return 'recheck';
}

export interface CandidateRow {
  tenantId: number;
  fingerprint: string;
  ciphertext: string;
}

/** Identifies one (tenant, token) pair among a batch's candidates. */
export function candidateKey(tenantId: number, fingerprint: string): string {
  return `${tenantId}:${fingerprint}`;
}

/**
 * Stores the tokens of many webhooks as candidates in one statement (the webhook path batches them:
 * src/ingest/grant-recorder.ts). Per row: `candidate` when it was stored now; `unchanged` when it is
 * pending already, was refused before, or its tenant is gone; `capped` when the tenant has
 * MAX_PENDING_CANDIDATES pending. Concurrent statements of several processes may each fill the last
 * places, so a tenant can briefly hold a few more: the cap bounds the growth, it is not a quota.
 */
export async function storeCandidates(db: Database, rows: readonly CandidateRow[]): Promise<Map<string, CandidateOutcome>> {
  if (rows.length === 0) return new Map();
  const json = JSON.stringify(rows.map((r) => ({ tenant_id: r.tenantId, fingerprint: r.fingerprint, ciphertext: r.ciphertext })));
  const result = await queryRows<{ tenant_id: number; fingerprint: string; capped: boolean; stored: boolean }>(
    db,
    sql`with input as (
          select i.tenant_id, i.fingerprint, i.ciphertext, i.ord
            from rows from (json_to_recordset(${json}::json) as (tenant_id integer, fingerprint text, ciphertext text)) with ordinality as i(tenant_id, fingerprint, ciphertext, ord)
        ), fresh as (
          select i.* from input i
           where exists (select 1 from tenants t where t.id = i.tenant_id)
             and not exists (select 1 from grant_candidates g where g.tenant_id = i.tenant_id and g.fingerprint = i.fingerprint)
             -- The webhook read the grant before a verification adopted this very token (a new tenant's
             -- first burst): it is the grant in use now, not a candidate to verify again.
             and not exists (select 1 from tenant_credentials c where c.tenant_id = i.tenant_id and c.grant_fingerprint = i.fingerprint)
        ), ranked as (
          select f.*, row_number() over (partition by f.tenant_id order by f.ord)
                      + (select count(*) from grant_candidates g where g.tenant_id = f.tenant_id and g.ciphertext is not null) as place
            from fresh f
        ), credentials as (
          insert into tenant_credentials (tenant_id) select distinct tenant_id from ranked on conflict do nothing
        ), inserted as (
          insert into grant_candidates (tenant_id, fingerprint, ciphertext)
          select tenant_id, fingerprint, ciphertext from ranked where place <= ${MAX_PENDING_CANDIDATES}
          on conflict do nothing
          returning tenant_id, fingerprint
        )
        select r.tenant_id, r.fingerprint, r.place > ${MAX_PENDING_CANDIDATES} as capped,
               exists (select 1 from inserted n where n.tenant_id = r.tenant_id and n.fingerprint = r.fingerprint) as stored
          from ranked r`,
  );
  const outcomes = new Map<string, CandidateOutcome>(rows.map((r) => [candidateKey(r.tenantId, r.fingerprint), 'unchanged']));
  for (const r of result) {
    if (r.stored) outcomes.set(candidateKey(r.tenant_id, r.fingerprint), 'candidate');
    else if (r.capped) outcomes.set(candidateKey(r.tenant_id, r.fingerprint), 'capped');
  }
  return outcomes;
}

/** What recordCandidate needs of a tenant's credentials row. */
export interface GrantState {
  fingerprint: string | null;
  status: CredentialStatus;
}

/** The credentials rows of these tenants (one query; a tenant without a row is absent). */
export async function readGrantStates(db: Database, tenantIds: readonly number[]): Promise<Map<number, GrantState>> {
  const rows = await db
    .select({ tenantId: tenantCredentials.tenantId, fingerprint: tenantCredentials.grantFingerprint, status: tenantCredentials.status })
    .from(tenantCredentials)
    .where(tenantIds.length === 1 ? eq(tenantCredentials.tenantId, tenantIds[0] as number) : inArray(tenantCredentials.tenantId, [...tenantIds]));
  return new Map(rows.map((r) => [r.tenantId, { fingerprint: r.fingerprint, status: r.status }]));
}

export async function loadGrant(db: Database, box: SecretBox, tenantId: number): Promise<StoredGrant | undefined> {
  const [row] = await db.select().from(tenantCredentials).where(eq(tenantCredentials.tenantId, tenantId));
  return row && storedGrant(box, row);
}

function storedGrant(box: SecretBox, row: typeof tenantCredentials.$inferSelect): StoredGrant {
  return {
    token: row.grantCiphertext ? box.decrypt(row.grantCiphertext) : undefined,
    fingerprint: row.grantFingerprint,
    status: row.status,
    statusReason: row.statusReason,
    agreementNumber: row.agreementNumber,
    validatedAt: row.validatedAt,
    updatedAt: row.updatedAt,
    nextCheckAt: row.nextCheckAt,
    refusedAgreementNumber: row.refusedAgreementNumber,
  };
}

/** Candidates still waiting for verification, oldest first. */
export async function pendingCandidates(db: Database, box: SecretBox, tenantId: number): Promise<GrantCandidate[]> {
  const rows = await db
    .select({ fingerprint: grantCandidates.fingerprint, ciphertext: grantCandidates.ciphertext })
    .from(grantCandidates)
    .where(and(eq(grantCandidates.tenantId, tenantId), sql`${grantCandidates.ciphertext} is not null`))
    .orderBy(grantCandidates.receivedAt);
  return rows.map((r) => ({ fingerprint: r.fingerprint, token: box.decrypt(r.ciphertext as string) }));
}

/** How long a claimed candidate is left to the activity verifying it. */
export const CANDIDATE_CLAIM_MS = 30_000;

/**
 * Claims the candidates no other activity is verifying (a conditional write: of concurrent syncs, one
 * verifies each token; the others go on with the grant in use, or fail `CredentialsMissing` and are synced
 * again once the token verified). Sent as the first part of openGrant's statement.
 */
function claimStatement(db: Database, tenantId: number) {
  return db
    .update(grantCandidates)
    .set({ verifyingUntil: sql`now() + ${CANDIDATE_CLAIM_MS}::bigint * interval '1 millisecond'` })
    .where(
      and(
        eq(grantCandidates.tenantId, tenantId),
        sql`${grantCandidates.ciphertext} is not null`,
        sql`(${grantCandidates.verifyingUntil} is null or ${grantCandidates.verifyingUntil} < now())`,
      ),
    )
    .returning({ fingerprint: grantCandidates.fingerprint, ciphertext: grantCandidates.ciphertext, receivedAt: grantCandidates.receivedAt });
}

/** What a session starts from (activities/economic-access.ts `open()`), read by openGrant. */
export interface GrantOpening {
  /** The candidates this caller claimed to verify, oldest first: usually none. */
  claimed: GrantCandidate[];
  /** The grant as it stood when the claim was made: read it again after verifying a claimed candidate. */
  grant: StoredGrant | undefined;
  /** kindAccess() of the tenant. */
  kinds: Map<string, { due: boolean }>;
}

/**
 * The candidate claim, loadGrant and kindAccess in one statement: every sync opens a session with all
 * three, and usually there is no candidate and no forbidden kind, so two of three round trips bought
 * nothing. The claim is a data-modifying CTE (Postgres allows those only at the top of a statement); the
 * claimed rows and the kind access come back as JSON arrays beside the credentials row. All three share
 * the statement's snapshot, which changes nothing open() relies on: a grant another process adopted
 * meanwhile is what its re-read before failing is for, as it was between three statements.
 */
export async function openGrant(db: Database, box: SecretBox, tenantId: number): Promise<GrantOpening> {
  const claimed = db.$with('claimed').as(claimStatement(db, tenantId));
  const [row] = await db
    .with(claimed)
    .select({
      credentials: tenantCredentials,
      claimed: sql<Array<{ fingerprint: string; ciphertext: string }>>`(
        select coalesce(json_agg(json_build_object('fingerprint', ${claimed.fingerprint}, 'ciphertext', ${claimed.ciphertext}) order by ${claimed.receivedAt}), '[]'::json)
          from ${claimed})`,
      kinds: sql<Array<{ kind: string; due: boolean }>>`(
        select coalesce(json_agg(json_build_object('kind', ${tenantKindAccess.kind}, 'due', ${tenantKindAccess.nextCheckAt} <= now())), '[]'::json)
          from ${tenantKindAccess} where ${tenantKindAccess.tenantId} = ${tenantId})`,
    })
    // From the tenant's own row, so the claim and the kinds are read even while it has no credentials row.
    .from(tenants)
    .leftJoin(tenantCredentials, eq(tenantCredentials.tenantId, tenants.id))
    .where(eq(tenants.id, tenantId));
  if (!row) return { claimed: [], grant: undefined, kinds: new Map() };
  return {
    claimed: row.claimed.map((r) => ({ fingerprint: r.fingerprint, token: box.decrypt(r.ciphertext) })),
    grant: row.credentials ? storedGrant(box, row.credentials) : undefined,
    kinds: new Map(row.kinds.map((r) => [r.kind, { due: r.due }])),
  };
}

/**
 * The tenant's candidates that still hold a token: `verifying` when an activity has one claimed right now,
 * `pending` when some wait for the next sync to claim them (a verification e-conomic did not answer
 * released its claim), `none` when there are none.
 */
export async function candidateState(db: Database, tenantId: number): Promise<'verifying' | 'pending' | 'none'> {
  const [row] = await db
    .select({
      verifying: sql<boolean>`coalesce(bool_or(${grantCandidates.verifyingUntil} >= now()), false)`,
      candidates: sql<number>`count(*)::int`,
    })
    .from(grantCandidates)
    .where(and(eq(grantCandidates.tenantId, tenantId), sql`${grantCandidates.ciphertext} is not null`));
  if (row?.verifying) return 'verifying';
  return Number(row?.candidates ?? 0) > 0 ? 'pending' : 'none';
}

/** The verification could not finish (e-conomic unreachable): the next sync may claim the candidate at once. */
export async function releaseCandidate(db: Database, tenantId: number, fingerprint: string): Promise<void> {
  await db
    .update(grantCandidates)
    .set({ verifyingUntil: null })
    .where(and(eq(grantCandidates.tenantId, tenantId), eq(grantCandidates.fingerprint, fingerprint)));
}

/** A candidate e-conomic refused outright (401): nothing to adopt, nothing to keep. */
export async function dropCandidate(db: Database, tenantId: number, fingerprint: string): Promise<void> {
  await db.delete(grantCandidates).where(and(eq(grantCandidates.tenantId, tenantId), eq(grantCandidates.fingerprint, fingerprint)));
}

export type AdoptOutcome =
  /** The tenant was unbound: now bound to this agreement. */
  | { result: 'bound'; healed: boolean }
  /** Same agreement: this token is the grant in use now (it may be the one already in use). */
  | { result: 'adopted'; healed: boolean }
  /** Another agreement: refused, recorded on the tenant; the grant in use is untouched. */
  | { result: 'refused'; boundAgreement: number };

/**
 * The binding decision for a token `GET /self` just verified. One transaction with the tenant's row locked
 * and a conditional write (`agreement_number is null or = this agreement`), so two processes racing with
 * tokens of different agreements cannot both win. `healed` means the tenant was broken or had no usable
 * grant before: entities whose syncs were refused meanwhile are due again.
 */
export async function adoptVerifiedGrant(db: Database, box: SecretBox, tenantId: number, token: string, agreementNumber: number): Promise<AdoptOutcome> {
  const fingerprint = box.fingerprint(token);
  return db.transaction(async (tx) => {
    await tx.insert(tenantCredentials).values({ tenantId }).onConflictDoNothing();
    const [before] = await tx
      .select({ status: tenantCredentials.status, agreementNumber: tenantCredentials.agreementNumber, hasGrant: sql<boolean>`${tenantCredentials.grantCiphertext} is not null` })
      .from(tenantCredentials)
      .where(eq(tenantCredentials.tenantId, tenantId))
      .for('update');
    const now = new Date();
    const updated = await tx
      .update(tenantCredentials)
      .set({
        agreementNumber,
        grantCiphertext: box.encrypt(token),
        grantFingerprint: fingerprint,
        status: 'ok',
        statusReason: null,
        validatedAt: now,
        updatedAt: now,
        nextCheckAt: null,
        failedChecks: 0,
      })
      .where(and(eq(tenantCredentials.tenantId, tenantId), sql`(${tenantCredentials.agreementNumber} is null or ${tenantCredentials.agreementNumber} = ${agreementNumber})`))
      .returning({ tenantId: tenantCredentials.tenantId });
    if (updated.length === 1) {
      await tx.delete(grantCandidates).where(and(eq(grantCandidates.tenantId, tenantId), eq(grantCandidates.fingerprint, fingerprint)));
      const healed = !before || before.status === 'broken' || !before.hasGrant;
      return before?.agreementNumber == null ? { result: 'bound', healed } : { result: 'adopted', healed };
    }
    // Bound to another agreement: keep only the fingerprint, so the same token is not verified again.
    await tx
      .insert(grantCandidates)
      .values({ tenantId, fingerprint, ciphertext: null, refusedAgreementNumber: agreementNumber })
      .onConflictDoUpdate({ target: [grantCandidates.tenantId, grantCandidates.fingerprint], set: { ciphertext: null, refusedAgreementNumber: agreementNumber } });
    await tx.update(tenantCredentials).set({ refusedAgreementNumber: agreementNumber, refusedAt: now }).where(eq(tenantCredentials.tenantId, tenantId));
    return { result: 'refused', boundAgreement: before?.agreementNumber ?? 0 };
  });
}

/** e-conomic answered 401 for the grant in use (`fingerprint` guards a grant replaced meanwhile). */
export async function markBroken(db: Database, tenantId: number, fingerprint: string, reason: string): Promise<void> {
  await db
    .update(tenantCredentials)
    .set({
      status: 'broken',
      statusReason: reason,
      nextCheckAt: sql`now() + ${BROKEN_RECHECK_BASE_MS}::bigint * interval '1 millisecond'`,
      lastCheckAt: sql`now()`,
      failedChecks: 0,
      updatedAt: new Date(),
    })
    .where(and(eq(tenantCredentials.tenantId, tenantId), eq(tenantCredentials.grantFingerprint, fingerprint), sql`${tenantCredentials.status} <> 'broken'`));
}

/**
 * Claims the due `/self` re-check of a broken grant for this caller: the conditional write pushes the next
 * check out (doubling, up to BROKEN_RECHECK_MAX_MS), so of all workers exactly one re-checks each time.
 */
export async function claimRecheck(db: Database, tenantId: number): Promise<boolean> {
  const claimed = await db
    .update(tenantCredentials)
    .set({
      failedChecks: sql`${tenantCredentials.failedChecks} + 1`,
      lastCheckAt: sql`now()`,
      nextCheckAt: sql`now() + least(${BROKEN_RECHECK_BASE_MS}::bigint * power(2, least(${tenantCredentials.failedChecks} + 1, 20))::bigint, ${BROKEN_RECHECK_MAX_MS}::bigint) * interval '1 millisecond'`,
    })
    // A null next_check_at: a grant marked broken before re-checks existed (then even by a 403): due at once.
    .where(and(eq(tenantCredentials.tenantId, tenantId), eq(tenantCredentials.status, 'broken'), sql`(${tenantCredentials.nextCheckAt} is null or ${tenantCredentials.nextCheckAt} <= now())`))
    .returning({ tenantId: tenantCredentials.tenantId });
  return claimed.length === 1;
}

/**
 * `access unbind`: releases the binding. The grant in use goes too (it belongs to the old agreement), and
 * so do the refused fingerprints and the per-kind 403s: the next grant a webhook brings that verifies binds
 * the tenant anew. Returns false when the tenant has no credentials row.
 */
export async function unbindTenant(db: Database, tenantId: number): Promise<{ previousAgreement: number | null } | undefined> {
  return db.transaction(async (tx) => {
    const [before] = await tx.select({ agreementNumber: tenantCredentials.agreementNumber }).from(tenantCredentials).where(eq(tenantCredentials.tenantId, tenantId)).for('update');
    if (!before) return undefined;
    await tx
      .update(tenantCredentials)
      .set({
        agreementNumber: null,
        grantCiphertext: null,
        grantFingerprint: null,
        status: 'unverified',
        statusReason: null,
        validatedAt: null,
        nextCheckAt: null,
        failedChecks: 0,
        refusedAgreementNumber: null,
        refusedAt: null,
        updatedAt: new Date(),
      })
      .where(eq(tenantCredentials.tenantId, tenantId));
    await tx.delete(grantCandidates).where(sql`${grantCandidates.tenantId} = ${tenantId} and ${grantCandidates.ciphertext} is null`);
    await tx.delete(tenantKindAccess).where(eq(tenantKindAccess.tenantId, tenantId));
    return { previousAgreement: before.agreementNumber };
  });
}

// ---------------------------------------------------------------------------------------------------
// 403 per entity kind
// ---------------------------------------------------------------------------------------------------

/** The tenant's forbidden kinds (or only `kind`), each with whether its re-check is due. */
export async function kindAccess(db: Database, tenantId: number, kind?: string): Promise<Map<string, { due: boolean }>> {
  const rows = await db
    .select({ kind: tenantKindAccess.kind, due: sql<boolean>`${tenantKindAccess.nextCheckAt} <= now()` })
    .from(tenantKindAccess)
    .where(and(eq(tenantKindAccess.tenantId, tenantId), kind === undefined ? undefined : eq(tenantKindAccess.kind, kind)));
  return new Map(rows.map((r) => [r.kind, { due: r.due }]));
}

export async function markKindForbidden(db: Database, tenantId: number, kind: string, reason: string, recheckMs = FORBIDDEN_RECHECK_MS): Promise<void> {
  const next = sql`now() + ${recheckMs}::bigint * interval '1 millisecond'`;
  await db
    .insert(tenantKindAccess)
    .values({ tenantId, kind, reason, nextCheckAt: next })
    .onConflictDoUpdate({ target: [tenantKindAccess.tenantId, tenantKindAccess.kind], set: { reason, nextCheckAt: next } });
}

/** A call of the kind succeeded: it is readable (again). Returns whether it had been forbidden. */
export async function clearKindForbidden(db: Database, tenantId: number, kind: string): Promise<boolean> {
  const deleted = await db
    .delete(tenantKindAccess)
    .where(and(eq(tenantKindAccess.tenantId, tenantId), eq(tenantKindAccess.kind, kind)))
    .returning({ kind: tenantKindAccess.kind });
  return deleted.length > 0;
}
