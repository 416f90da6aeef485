// The read model (docs/database.md) and the service's own bookkeeping tables. One file, so drizzle-kit
// generates every migration from it. Amounts are numeric (kept as strings: no float rounding), dates
// are `date`, instants `timestamptz`.
import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  date,
  foreignKey,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const amount = (name: string) => numeric(name);

// ---------------------------------------------------------------------------------------------------
// Tenants, API keys and credentials
// ---------------------------------------------------------------------------------------------------

export const tenants = pgTable('tenants', {
  id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
  name: text('name').notNull().unique(),
  createdAt: instant('created_at').notNull().defaultNow(),
});

/** Our API keys (the `APIKey` in the webhook URL). Only a SHA-256 hash is kept; the prefix finds the row. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    prefix: text('prefix').notNull(),
    keyHash: text('key_hash').notNull().unique(),
    partner: text('partner').notNull().default('eConomic'),
    description: text('description'),
    createdAt: instant('created_at').notNull().defaultNow(),
    revokedAt: instant('revoked_at'),
  },
  (t) => [index('api_keys_prefix_idx').on(t.prefix)],
);

/**
 * The customer's e-conomic agreement grant, one row per tenant (docs/webhook.md, "The grant and the agreement"). The tenant is bound to
 * the agreement of the first grant that verified (`GET /self`): `agreement_number`, set by a conditional
 * write so that any number of processes agree. `grant_*` is the token in use (encrypted, AES-256-GCM); a
 * token a webhook brings waits in `grant_candidates` until an activity verified it. `status` is `broken` after a 401, until a
 * grant verifies again (a new one, the same one sent again, or the periodic re-check at `next_check_at`).
 */
export const tenantCredentials = pgTable('tenant_credentials', {
  tenantId: integer('tenant_id')
    .primaryKey()
    .references(() => tenants.id),
  /** Null until a first grant verified: the candidate then becomes the grant in use. */
  grantCiphertext: text('grant_ciphertext'),
  /** HMAC of the grant under SECRETS_KEY: lets the webhook see "same grant as stored" without decrypting. */
  grantFingerprint: text('grant_fingerprint'),
  /** The bound agreement; null while unbound (no grant verified yet, or released by `access unbind`). */
  agreementNumber: integer('agreement_number'),
  status: text('status', { enum: ['unverified', 'ok', 'broken'] })
    .notNull()
    .default('unverified'),
  statusReason: text('status_reason'),
  updatedAt: instant('updated_at').notNull().defaultNow(),
  validatedAt: instant('validated_at'),
  /** The agreement of the last grant refused because the tenant is bound to another one (shown by `status`). */
  refusedAgreementNumber: integer('refused_agreement_number'),
  refusedAt: instant('refused_at'),
  /** While broken: when the next `/self` re-check is due (shared by every worker), and how many failed. */
  nextCheckAt: instant('next_check_at'),
  failedChecks: integer('failed_checks').notNull().default(0),
  /** When e-conomic last refused or was last asked about the broken grant: a resend re-checks at most every so often. */
  lastCheckAt: instant('last_check_at'),
});

/**
 * Grant tokens webhooks brought that differ from the one in use, one row per token (by fingerprint), until an
 * activity verified them with `GET /self`: then they become the grant in use (same or no bound agreement) or
 * are refused (another agreement: the ciphertext is dropped, the fingerprint kept so the same token is
 * neither verified nor stored again). Rows, not one column, so a foreign token cannot push out a genuine one.
 */
export const grantCandidates = pgTable(
  'grant_candidates',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    fingerprint: text('fingerprint').notNull(),
    ciphertext: text('ciphertext'),
    receivedAt: instant('received_at').notNull().defaultNow(),
    refusedAgreementNumber: integer('refused_agreement_number'),
    /** An activity is verifying this token until then: a burst of syncs costs one `GET /self`, not one each. */
    verifyingUntil: instant('verifying_until'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.fingerprint] })],
);

/**
 * Entity kinds e-conomic answered 403 for (docs/webhook.md, "The grant and the agreement"): that kind is skipped, syncs and
 * reconciliation, until `next_check_at`, when the next call tries it again. A row exists only while forbidden.
 */
export const tenantKindAccess = pgTable(
  'tenant_kind_access',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    kind: text('kind').notNull(),
    reason: text('reason').notNull(),
    since: instant('since').notNull().defaultNow(),
    nextCheckAt: instant('next_check_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.kind] })],
);

// ---------------------------------------------------------------------------------------------------
// Webhook events: an audit trail of every event received, and the inbox used when Temporal is down
// ---------------------------------------------------------------------------------------------------

export const syncEvents = pgTable(
  'sync_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    eventId: uuid('event_id').notNull().unique(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    source: text('source').notNull(),
    kind: text('kind').notNull(),
    number: integer('number').notNull(),
    oldNumber: integer('old_number'),
    receivedAt: instant('received_at').notNull(),
    workflowId: text('workflow_id').notNull(),
    /** `signalled` (recorded in Temporal at once), `queued` (in the inbox, Temporal was down), `relayed`. */
    outcome: text('outcome', { enum: ['signalled', 'queued', 'relayed'] }).notNull(),
    relayedAt: instant('relayed_at'),
    /**
     * A queued row claimed by an inbox relay (src/ingest/inbox-relay.ts): no other relay takes it until
     * `lease_until`, so a relay that crashed while signalling holds it for one lease at most.
     */
    leaseOwner: text('lease_owner'),
    leaseUntil: instant('lease_until'),
  },
  (t) => [
    index('sync_events_queued_idx')
      .on(t.seq)
      .where(sql`${t.outcome} = 'queued'`),
    // The relay keeps one workflow's events in order: "an earlier queued event of this workflow is leased".
    index('sync_events_queued_workflow_idx')
      .on(t.workflowId, t.seq)
      .where(sql`${t.outcome} = 'queued'`),
    index('sync_events_tenant_idx').on(t.tenantId, t.receivedAt),
    // The relay shares each batch among the tenants with queued rows: finds them, and each one's oldest.
    index('sync_events_queued_tenant_idx')
      .on(t.tenantId, t.seq)
      .where(sql`${t.outcome} = 'queued'`),
  ],
);

// ---------------------------------------------------------------------------------------------------
// Sync bookkeeping: last outcome per entity (status, retry-failed) and reconciliation watermarks
// ---------------------------------------------------------------------------------------------------

export const syncState = pgTable(
  'sync_state',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    kind: text('kind').notNull(),
    number: integer('number').notNull(),
    workflowId: text('workflow_id').notNull(),
    lastOutcome: text('last_outcome', { enum: ['pending', 'synced', 'deleted', 'failed'] }).notNull(),
    lastErrorType: text('last_error_type'),
    lastError: text('last_error'),
    attempts: integer('attempts').notNull().default(0),
    lastAttemptAt: instant('last_attempt_at').notNull().defaultNow(),
    lastSuccessAt: instant('last_success_at'),
    /**
     * The number the entity had before a renumbering that its failed sync did not apply: the next sync of
     * the entity (an event, `retry-failed`) applies it, so an unapplied renumbering never ends as a deletion.
     */
    pendingOldNumber: integer('pending_old_number'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.kind, t.number] }), index('sync_state_outcome_idx').on(t.lastOutcome)],
);

export const reconcileState = pgTable(
  'reconcile_state',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** Entity kind plus state where it matters, e.g. `order:drafts`. */
    scope: text('scope').notNull(),
    watermark: instant('watermark'),
    lastRunAt: instant('last_run_at'),
    lastFullRunAt: instant('last_full_run_at'),
    lastSummary: jsonb('last_summary'),
    /**
     * Booked invoices: the highest number a reconciliation listing compared. Reconciliation owns it (not
     * the highest number stored, which a webhook for a later invoice moves past lost ones).
     */
    numberWatermark: integer('number_watermark'),
    /**
     * The tenant's row only: where a run cut short by its call budget stopped (mode, scopes, scope index,
     * cursor), so the next run of the same mode resumes there instead of starving the later scopes.
     */
    resume: jsonb('resume'),
    /**
     * The tenant's row only: the running reconciliation's progress (ReconcileLiveProgress: scope, entities
     * compared and e-conomic's count, rate, ETA), written by the listing activity at most every few
     * seconds and cleared when the run ends; `status` and the `reconcile` command print it.
     */
    progress: jsonb('progress'),
    /**
     * The tenant's row only: the workflow id of the reconciliation that holds the tenant, and until when
     * (renewed with its progress, released when it ends). One run per tenant at a time: a run that begins
     * while another holds the tenant ends at once, calling nothing (docs/temporal.md).
     */
    activeRun: text('active_run'),
    activeUntil: instant('active_until'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.scope] })],
);

/**
 * Numbers a full reconciliation saw in e-conomic, per run and scope: the set "Postgres has it, e-conomic
 * no longer does" is computed by an anti-join in Postgres, so memory stays bounded by one page however
 * large the tenant, and a retried activity resumes with what it already saw. Rows are removed when the
 * scope finishes (and stale ones from crashed runs at the next run's start).
 */
export const reconcileSeen = pgTable(
  'reconcile_seen',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    runId: text('run_id').notNull(),
    scope: text('scope').notNull(),
    number: integer('number').notNull(),
    seenAt: instant('seen_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.runId, t.scope, t.number] })],
);

// ---------------------------------------------------------------------------------------------------
// The read model (docs/database.md)
// ---------------------------------------------------------------------------------------------------

/** Columns every synced table has. */
const syncedColumns = () => ({
  tenantId: integer('tenant_id')
    .notNull()
    .references(() => tenants.id),
  lastUpdated: instant('last_updated'),
  syncedAt: instant('synced_at').notNull().defaultNow(),
  deletedAt: instant('deleted_at'),
  data: jsonb('data').notNull(),
});

export const economicCustomers = pgTable(
  'economic_customers',
  {
    ...syncedColumns(),
    customerNumber: integer('customer_number').notNull(),
    name: text('name'),
    currency: text('currency'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.customerNumber] })],
);

export const economicProjects = pgTable(
  'economic_projects',
  {
    ...syncedColumns(),
    projectNumber: integer('project_number').notNull(),
    name: text('name'),
    customerNumber: integer('customer_number'),
    isClosed: boolean('is_closed').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.projectNumber] }),
    foreignKey({
      columns: [t.tenantId, t.customerNumber],
      foreignColumns: [economicCustomers.tenantId, economicCustomers.customerNumber],
    }).onUpdate('cascade'),
  ],
);

/** Header columns every sales document (order, quote, draft and booked invoice) has. */
const documentColumns = () => ({
  ...syncedColumns(),
  customerNumber: integer('customer_number'),
  projectNumber: integer('project_number'),
  currency: text('currency'),
  netAmount: amount('net_amount'),
  grossAmount: amount('gross_amount'),
  date: date('date', { mode: 'string' }),
});

/**
 * A document's customer and project must exist before it is committed (docs/database.md). Renumbering a
 * customer or project carries over to the documents that reference it.
 */
const documentReferences = (t: { tenantId: AnyPgColumn; customerNumber: AnyPgColumn; projectNumber: AnyPgColumn }) => [
  foreignKey({
    columns: [t.tenantId, t.customerNumber],
    foreignColumns: [economicCustomers.tenantId, economicCustomers.customerNumber],
  }).onUpdate('cascade'),
  foreignKey({
    columns: [t.tenantId, t.projectNumber],
    foreignColumns: [economicProjects.tenantId, economicProjects.projectNumber],
  }).onUpdate('cascade'),
];

export const documentStatus = ['draft', 'sent', 'archived'] as const;

export const economicOrders = pgTable(
  'economic_orders',
  {
    ...documentColumns(),
    orderNumber: integer('order_number').notNull(),
    status: text('status', { enum: documentStatus }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.orderNumber] }),
    ...documentReferences(t),
  ],
);

export const economicQuotes = pgTable(
  'economic_quotes',
  {
    ...documentColumns(),
    quoteNumber: integer('quote_number').notNull(),
    status: text('status', { enum: documentStatus }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.quoteNumber] }),
    ...documentReferences(t),
  ],
);

export const economicDraftInvoices = pgTable(
  'economic_draft_invoices',
  {
    ...documentColumns(),
    draftInvoiceNumber: integer('draft_invoice_number').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.draftInvoiceNumber] }),
    ...documentReferences(t),
  ],
);

export const economicBookedInvoices = pgTable(
  'economic_booked_invoices',
  {
    ...documentColumns(),
    bookedInvoiceNumber: integer('booked_invoice_number').notNull(),
    remainder: amount('remainder'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.bookedInvoiceNumber] }),
    ...documentReferences(t),
  ],
);

export const documentTypes = ['order', 'quote', 'draft_invoice', 'booked_invoice'] as const;
export type DocumentType = (typeof documentTypes)[number];

/** Lines of every sales document; replaced together with their document, in the same transaction. */
export const economicDocumentLines = pgTable(
  'economic_document_lines',
  {
    ...syncedColumns(),
    documentType: text('document_type', { enum: documentTypes }).notNull(),
    documentNumber: integer('document_number').notNull(),
    lineNumber: integer('line_number').notNull(),
    description: text('description'),
    productNumber: text('product_number'),
    quantity: amount('quantity'),
    unitNetPrice: amount('unit_net_price'),
    totalNetAmount: amount('total_net_amount'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.documentType, t.documentNumber, t.lineNumber] })],
);

// ---------------------------------------------------------------------------------------------------
// The change feed (docs/change-feed.md)
// ---------------------------------------------------------------------------------------------------

export const changeKinds = ['created', 'updated', 'deleted', 'renumbered'] as const;
export type ChangeKind = (typeof changeKinds)[number];

/**
 * One row per committed change of an entity, written by the entity store in the transaction of the
 * change. `cursor` increases in commit order within a tenant (the store assigns it under a per-tenant
 * lock held until commit), so a reader resuming after its last cursor misses nothing. Rows older than
 * CHANGES_RETENTION_DAYS are pruned.
 */
export const economicChanges = pgTable(
  'economic_changes',
  {
    cursor: bigserial('cursor', { mode: 'number' }).primaryKey(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    kind: text('kind').notNull(),
    number: integer('number').notNull(),
    change: text('change', { enum: changeKinds }).notNull(),
    /** Renumbered: the number the entity had before. */
    oldNumber: integer('old_number'),
    lastUpdated: instant('last_updated'),
    changedAt: instant('changed_at').notNull().defaultNow(),
  },
  (t) => [index('economic_changes_tenant_cursor_idx').on(t.tenantId, t.cursor), index('economic_changes_changed_at_idx').on(t.changedAt)],
);

/**
 * Outbound webhook subscribers of the change feed (docs/change-feed.md): one tenant's changes, or every
 * tenant's (`tenant_id` null). The signing secret is stored encrypted (SecretBox, as grant tokens are).
 * Removed subscribers keep their row (`removed_at`) so their dead letters stay readable.
 */
export const changeSubscribers = pgTable('change_subscribers', {
  id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
  tenantId: integer('tenant_id').references(() => tenants.id),
  url: text('url').notNull(),
  secretEncrypted: text('secret_encrypted').notNull(),
  createdAt: instant('created_at').notNull().defaultNow(),
  removedAt: instant('removed_at'),
});

/**
 * How far each subscriber has received each tenant's changes (cursors are ordered per tenant). A new
 * subscriber gets a row per existing tenant at that tenant's latest cursor; a tenant without a row
 * (created later) is delivered from its first change.
 */
export const changeSubscriberProgress = pgTable(
  'change_subscriber_progress',
  {
    subscriberId: integer('subscriber_id')
      .notNull()
      .references(() => changeSubscribers.id),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    cursor: bigint('cursor', { mode: 'number' }).notNull(),
    deliveredAt: instant('delivered_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.subscriberId, t.tenantId] })],
);

/**
 * Changes a subscriber did not accept within the attempt limit. The cursor row may be pruned later, so
 * what the delivery needs is kept here. `replay_requested_at`: an operator asked to deliver it again.
 */
export const changeDeadLetters = pgTable(
  'change_dead_letters',
  {
    subscriberId: integer('subscriber_id')
      .notNull()
      .references(() => changeSubscribers.id),
    cursor: bigint('cursor', { mode: 'number' }).notNull(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    kind: text('kind').notNull(),
    number: integer('number').notNull(),
    change: text('change', { enum: changeKinds }).notNull(),
    oldNumber: integer('old_number'),
    lastUpdated: instant('last_updated'),
    changedAt: instant('changed_at').notNull(),
    lastError: text('last_error').notNull(),
    deadAt: instant('dead_at').notNull().defaultNow(),
    replayRequestedAt: instant('replay_requested_at'),
  },
  (t) => [primaryKey({ columns: [t.subscriberId, t.cursor] })],
);

/**
 * e-conomic's call budget, shared by every worker process (docs/economic-api.md, "The call budget"):
 * calls made for one agreement in one fixed 24-hour window (UTC days), counted by one atomic UPSERT per
 * call (src/access/call-budget.ts). Keyed by the agreement, not the tenant: e-conomic's fair use counts
 * per agreement. Rows of past windows are only history; the budget reads the current window's row.
 */
export const economicCallBudget = pgTable(
  'economic_call_budget',
  {
    agreementNumber: integer('agreement_number').notNull(),
    windowStart: instant('window_start').notNull(),
    calls: integer('calls').notNull().default(0),
    /**
     * How many calls the last take was granted (src/access/call-budget.ts): a take asks for the calls of a
     * whole batch, and near the limit gets fewer; the UPSERT computes this from the count before it.
     */
    lastGranted: integer('last_granted').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.agreementNumber, t.windowStart] })],
);

/**
 * An agreement e-conomic answered 429 for: no worker calls e-conomic for it before `paused_until`
 * (Retry-After, or a default backoff). One row per agreement; a later 429 only ever extends it.
 */
export const economicAgreementPauses = pgTable('economic_agreement_pauses', {
  agreementNumber: integer('agreement_number').primaryKey(),
  pausedUntil: instant('paused_until').notNull(),
  updatedAt: instant('updated_at').notNull().defaultNow(),
});
