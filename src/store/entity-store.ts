// The entity store: the one module that reads and writes the entity tables (economic_customers,
// _projects, _orders, _quotes, _draft_invoices, _booked_invoices and economic_document_lines) and that
// records each sync's outcome in `sync_state`. Activities say what (commit these records, mark that one
// deleted, which rows did this run not see); the store says how, under the invariants of
// docs/database.md: a header row and its lines are replaced together; an older version never overwrites
// a newer one; an entity gone from e-conomic gets `deleted_at` and is never removed; renumbering moves the
// row; a document's customer and project are committed before it, in the same transaction.
//
// Writes to one entity are serialised by transaction-scoped advisory locks. A transaction takes all the
// locks it needs before it writes anything, in one canonical order (sorted by key): exclusive for every
// entity it writes (a renumbering's old number included), shared for every customer and project its
// records reference. So two transactions that share entities wait for each other instead of
// deadlocking, and a customer's or project's renumbering (which cascades into the documents naming it)
// never overlaps the commit of a document that names it: a document committed just after it meets a
// foreign-key violation, which the sync resolves by fetching again (activities/sync-entity.ts).
// Which observation of an entity wins is decided by one rule, in ./version-rule.ts.
//
// Every write that changes what the application reads is also recorded in the change feed
// (./change-log.ts, docs/change-feed.md) in the same transaction: created (a new row, or one marked
// deleted coming back), updated (a live row whose content, status or lastUpdated differs), deleted
// (marked deleted) and renumbered (the row moved to its new number). A re-fetch that finds the entity
// as stored refreshes `synced_at` but is no change, and logs nothing.
import { and, eq, getTableColumns, getTableName, gt, inArray, isNull, sql, type SQL, type WithSubquery } from 'drizzle-orm';
import { unionAll } from 'drizzle-orm/pg-core';
import { queryRows, type Database, type Transaction } from '../db/client';
import { databaseErrorCode, describeDatabaseError, isDatabaseUnavailable, isIntegrityViolation } from '../db/errors';
import { economicDocumentLines, economicDraftInvoices, reconcileSeen, syncState, tenants, type DocumentType } from '../db/schema';
import { ENTITY_KINDS, type EntityKind } from '../shared/entities';
import { FAILURE_TYPES } from '../shared/failure-types';
import { dependenciesOf, type DependencyRef, type DocumentStatus, type EntityRecord } from '../sync/entity-record';
import { appendChanges, type PendingChange } from './change-log';
import { ENTITY_KIND_DESCRIPTORS, type EntityKindDescriptor } from './entity-kinds';
import { supersedes, type Observation, type StoredVersion } from './version-rule';

/** What the store holds of one entity: enough to compare versions, never the whole row. */
export interface StoredEntity {
  number: number;
  lastUpdated: Date | null;
  syncedAt: Date;
  deletedAt: Date | null;
  status?: DocumentStatus;
  /** Booked invoices only. */
  remainder?: string | null;
}

/** Which drafts a booked invoice may have been booked from: its customer's, with its amount and currency when known. */
export interface DraftInvoiceQuery {
  customerNumber: number;
  netAmount?: string | null;
  currency?: string | null;
}

export type CommitOutcome = 'written' | 'stale';
export type DeleteOutcome = 'deleted' | 'absent' | 'stale';

/** A sync's outcome as `status` and `retry-failed` read it from `sync_state`. */
export interface SyncOutcomeRecord {
  tenantId: number;
  kind: EntityKind;
  number: number;
  workflowId: string;
  outcome: 'synced' | 'deleted' | 'failed';
  errorType?: string;
  error?: string;
  /**
   * A failed sync's renumbering (the number the entity had before) that no sync has applied yet: kept so
   * the next sync of the entity applies it (`sync_state.pending_old_number`).
   */
  oldNumber?: number;
}

/** The sync a write belongs to: its outcome is recorded in `sync_state` in the write's own transaction. */
export interface SyncRef {
  workflowId: string;
}

export interface CommitOptions {
  /** e-conomic renumbered the last record's entity from this number (and the old number is gone there). */
  renumberedFrom?: number;
  sync?: SyncRef;
}

/** Live rows a reconciliation run has not seen in e-conomic's listing of its scope (docs/database.md, reconcile_seen). */
export interface UnseenRowsQuery {
  kind: EntityKind;
  runId: string;
  scope: string;
  /** Orders and quotes: only rows in this status. */
  status?: DocumentStatus;
  /** Booked invoices: only rows with a remainder (the unpaid listing). */
  unpaidOnly?: boolean;
  /** Rows numbered above this, ascending. */
  after: number;
  limit: number;
}

/** One tenant and kind, as `status` prints it. */
export interface KindStatus {
  tenant: string;
  /** The bound e-conomic agreement, null while unbound. */
  agreement: number | null;
  /** `ok`, `broken`, `unverified` (a grant waits for verification) or null (none yet). */
  credentials: string | null;
  /** The agreement of the last grant refused because it belongs to another agreement. */
  refusedAgreement: number | null;
  kind: EntityKind;
  /** `ok`, or `forbidden` while e-conomic answers 403 for this kind. */
  access: 'ok' | 'forbidden';
  rows: number;
  deleted: number;
  lastSync: Date | null;
  failed: number;
}

export interface FailedSync {
  tenantId: number;
  tenant: string;
  kind: string;
  number: number;
}

/** What a sync read of the store before its first fetch (the store's `syncStart`). */
export interface SyncStart {
  /** The renumbering a failed sync of this entity left to apply (its old number), if any. */
  pendingOldNumber: number | undefined;
  /** The store's `find`, answering the rows this read holds without another statement. */
  find(tenantId: number, kind: EntityKind, number: number): Promise<StoredEntity | undefined>;
  /** The store's `findDependencies`, likewise. */
  findDependencies(tenantId: number, deps: readonly DependencyRef[]): Promise<Map<string, StoredEntity | undefined>>;
}

/**
 * A failed write, told without the statement's parameters: drizzle's own error quotes every bound value,
 * which for a commit is the whole entity (thousands of lines), and the message travels into the Temporal
 * failure and `sync_state`. Postgres' own message and detail say what went wrong. Its name is the failure
 * type (src/db/errors.ts decides): `DatabaseUnavailable` heals by retrying, `IntegrityViolation` and
 * `DatabaseError` do not.
 */
export class DatabaseError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
    this.name = isDatabaseUnavailable(this)
      ? FAILURE_TYPES.databaseUnavailable
      : isIntegrityViolation(this)
        ? FAILURE_TYPES.integrityViolation
        : FAILURE_TYPES.database;
  }
}

async function withoutParameters<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof DatabaseError) throw err;
    throw new DatabaseError(describeDatabaseError(err), databaseErrorCode(err));
  }
}

function descriptor(kind: EntityKind): EntityKindDescriptor {
  return ENTITY_KIND_DESCRIPTORS[kind];
}

/** Live rows of the query's kind (and status) above `after` that the run's listing of the scope did not show. */
function unseenConditions(tenantId: number, q: UnseenRowsQuery): SQL | undefined {
  const d = descriptor(q.kind);
  const t = d.table;
  const conditions: Array<SQL | undefined> = [eq(t.tenantId, tenantId), isNull(t.deletedAt), gt(d.number, q.after)];
  if (q.status && d.status) conditions.push(eq(d.status, q.status));
  if (q.unpaidOnly && d.remainder) conditions.push(sql`coalesce(${d.remainder}, 0) <> 0`);
  // `offset 0` keeps the sublink a per-row probe of reconcile_seen's primary key (a SubPlan), linear in the
  // rows compared whatever the statistics say. Without it the planner turns it into an anti-join, and on
  // statistics older than the run (the seen rows were all written minutes ago, before autovacuum's
  // analyze) it estimates one row on each side and picks a nested loop that scans the run's seen rows
  // once per stored row: 20,000 orders took 106 s on the 2-core bench machine, 0.16 s with the probe.
  // (Written out: Drizzle's query builder leaves out an offset of 0.)
  const seen = and(eq(reconcileSeen.tenantId, tenantId), eq(reconcileSeen.runId, q.runId), eq(reconcileSeen.scope, q.scope), eq(reconcileSeen.number, d.number));
  conditions.push(sql`not exists (select 1 from ${reconcileSeen} where ${seen} offset 0)`);
  return and(...conditions);
}

/** The statement behind `unseenRows` (exported so a test can read its plan). */
export function unseenRowsQuery(db: Database, tenantId: number, q: UnseenRowsQuery) {
  const d = descriptor(q.kind);
  return db.select({ number: d.number }).from(d.table).where(unseenConditions(tenantId, q)).orderBy(d.number).limit(q.limit);
}

/** The columns of StoredEntity in the kind's table. */
function storedEntityFields(d: EntityKindDescriptor) {
  return {
    number: d.number,
    lastUpdated: d.table.lastUpdated,
    syncedAt: d.table.syncedAt,
    deletedAt: d.table.deletedAt,
    ...(d.status ? { status: d.status } : {}),
    ...(d.remainder ? { remainder: d.remainder } : {}),
  };
}

/** How stored rows are keyed by kind and number (as resolveDependencies keys its dependencies). */
export const storedKey = (kind: EntityKind, number: number) => `${kind}/${number}`;

function whereEntity(d: EntityKindDescriptor, tenantId: number, number: number): SQL {
  return and(eq(d.table.tenantId, tenantId), eq(d.number, number)) as SQL;
}

/** The lines of one document. */
export function linesOf(tenantId: number, documentType: DocumentType, documentNumber: number): SQL {
  return and(
    eq(economicDocumentLines.tenantId, tenantId),
    eq(economicDocumentLines.documentType, documentType),
    eq(economicDocumentLines.documentNumber, documentNumber),
  ) as SQL;
}

const lockKey = (tenantId: number, kind: EntityKind, number: number) => `${tenantId}/${kind}/${number}`;

/** The locks a transaction needs: keys it writes (exclusive) and keys it only references (shared). */
interface LockSet {
  exclusive: string[];
  shared: string[];
}

/** Takes the advisory locks of these entities, deduplicated and in one canonical order. */
async function lockEntities(tx: Transaction, locks: LockSet): Promise<void> {
  const exclusive = new Set(locks.exclusive);
  const keys = [...new Set([...locks.exclusive, ...locks.shared])].sort();
  if (keys.length === 0) return;
  const json = JSON.stringify(keys.map((key) => ({ key, exclusive: exclusive.has(key) })));
  // One statement for all the locks, still taken one after another in the sort's order: the outer
  // projection runs once per row of the subquery ordered by position (the pattern Postgres' docs give
  // for advisory locks over a query's rows), so each lock is requested only once the previous one is
  // held, as with a statement per lock, and a wait or a deadlock is detected the same way. CASE
  // evaluates only the branch taken.
  await tx.execute(sql`
    select case when l.exclusive then pg_advisory_xact_lock(hashtextextended(l.key, 0))
                else pg_advisory_xact_lock_shared(hashtextextended(l.key, 0)) end
      from (select k.key, k.exclusive
              from rows from (json_to_recordset(${json}::json) as (key text, exclusive boolean)) with ordinality as k(key, exclusive, position)
             order by k.position) l`);
}

/** What the store holds of one entity, for the version rule (read under the entity's lock). */
async function storedVersion(tx: Transaction, d: EntityKindDescriptor, tenantId: number, number: number): Promise<StoredVersion | undefined> {
  const [row] = await tx
    .select({ lastUpdated: d.table.lastUpdated, syncedAt: d.table.syncedAt, deletedAt: d.table.deletedAt })
    .from(d.table)
    .where(whereEntity(d, tenantId, number));
  return row as StoredVersion | undefined;
}

const goneAt = (fetchedAt: Date): Observation => ({ lastUpdated: null, fetchedAt, gone: true });

/** What a record saw of its entity, for the version rule. */
function observationOf(record: EntityRecord): Observation {
  return { lastUpdated: record.lastUpdated ? new Date(record.lastUpdated) : null, fetchedAt: new Date(record.fetchedAt) };
}

/**
 * The version rule's decision for a record against what is stored, and the change it makes for the feed:
 * created (no row, or a deleted one), updated (a live row holding something else), none (the same).
 */
function decide(record: EntityRecord, stored: (StoredVersion & { same?: boolean }) | undefined): { outcome: CommitOutcome; change?: PendingChange } {
  const observed = observationOf(record);
  if (!supersedes(observed, stored)) return { outcome: 'stale' };
  const change = !stored || stored.deletedAt ? 'created' : stored.same === false ? 'updated' : undefined;
  return { outcome: 'written', ...(change ? { change: { kind: record.kind, number: record.number, change, lastUpdated: observed.lastUpdated } } : {}) };
}

/** The columns a record writes to its kind's row (besides the tenant). */
function rowValues(d: EntityKindDescriptor, record: EntityRecord) {
  const observed = observationOf(record);
  return { [d.numberKey]: record.number, lastUpdated: observed.lastUpdated, syncedAt: observed.fetchedAt, deletedAt: null, data: record.data, ...d.values(record) };
}

/** An upsert's `excluded.<column>`: the value the conflicting row would have been inserted with. */
const excluded = (column: { name: string }) => sql.raw(`excluded."${column.name}"`);

/**
 * The stored version (for the version rule) and, in the same round trip, whether the row already holds
 * what this record would write: same content (jsonb equality ignores key order), status and lastUpdated.
 */
async function storedVersionAndSameness(tx: Transaction, d: EntityKindDescriptor, tenantId: number, record: EntityRecord): Promise<(StoredVersion & { same: boolean }) | undefined> {
  const { lastUpdated } = observationOf(record);
  const sameStatus = d.status ? sql`${d.status} is not distinct from ${record.status ?? 'draft'}::text` : sql`true`;
  const [row] = await tx
    .select({
      lastUpdated: d.table.lastUpdated,
      syncedAt: d.table.syncedAt,
      deletedAt: d.table.deletedAt,
      same: sql<boolean>`(${d.table.data} = ${JSON.stringify(record.data)}::jsonb
                and ${d.table.lastUpdated} is not distinct from ${lastUpdated?.toISOString() ?? null}::timestamptz
                and ${sameStatus})`,
    })
    .from(d.table)
    .where(whereEntity(d, tenantId, record.number));
  return row as (StoredVersion & { same: boolean }) | undefined;
}

/**
 * Writes the record under the version rule; `moved`: its row was just moved here by its renumbering
 * (logged as that renumbering). Pushes the change it makes, if any, onto `changes` (none: not recorded).
 * `alongside`: other writes of the transaction (data-modifying CTEs) sent in the statement that writes the
 * row, to save their round trips; made only when the record is written (not 'stale').
 */
async function writeRecord(
  tx: Transaction,
  tenantId: number,
  record: EntityRecord,
  changes: PendingChange[] | undefined,
  moved = false,
  alongside: WithSubquery[] = [],
): Promise<CommitOutcome> {
  const d = descriptor(record.kind);
  // A moved row holds what was seen under the old number, all of it from before the renumbering this
  // record was fetched after (a deletion marked on it was the old number going away): the record replaces it.
  if (!moved) {
    const stored = changes ? await storedVersionAndSameness(tx, d, tenantId, record) : await storedVersion(tx, d, tenantId, record.number);
    const decision = decide(record, stored);
    if (decision.outcome === 'stale') return 'stale';
    if (changes && decision.change) changes.push(decision.change);
  }
  const updates = rowValues(d, record);
  // A document's lines are replaced with it: the old ones are deleted by this same statement (another
  // table, so no order within the statement matters) and the new ones inserted by the next, which sees
  // the delete.
  const ctes = d.documentType ? [tx.$with('replaced_lines').as(tx.delete(economicDocumentLines).where(linesOf(tenantId, d.documentType, record.number))), ...alongside] : alongside;
  await tx
    .with(...ctes)
    .insert(d.table)
    .values({ tenantId, ...updates })
    .onConflictDoUpdate({ target: [d.table.tenantId, d.number], set: updates });
  if (d.documentType) await insertLines(tx, tenantId, d.documentType, record);
  return 'written';
}

/** A document's lines as rows of economic_document_lines, carrying the document's versions. */
function lineRows(tenantId: number, documentType: DocumentType, record: EntityRecord) {
  const lastUpdated = record.lastUpdated ? new Date(record.lastUpdated) : null;
  const syncedAt = new Date(record.fetchedAt);
  return (record.lines ?? []).map((line) => ({
    tenantId,
    documentType,
    documentNumber: record.number,
    lineNumber: line.lineNumber,
    description: line.description,
    productNumber: line.productNumber,
    quantity: line.quantity,
    unitNetPrice: line.unitNetPrice,
    totalNetAmount: line.totalNetAmount,
    lastUpdated,
    syncedAt,
    data: line.data,
  }));
}

/** Inserts a document's lines (its old ones were deleted by writeRecord's statement). */
async function insertLines(tx: Transaction, tenantId: number, documentType: DocumentType, record: EntityRecord): Promise<void> {
  for (const batch of chunks(lineRows(tenantId, documentType, record), LINES_PER_INSERT)) await tx.insert(economicDocumentLines).values(batch);
}

/** Kinds in the order their rows may be written: what a row references is written before it. */
const WRITE_ORDER: readonly EntityKind[] = ['customer', 'project', 'order', 'quote', 'draft-invoice', 'booked-invoice'];

/** Most rows one multi-row insert carries (well under Postgres' 65,535 bind parameters at ~20 columns). */
const ROWS_PER_INSERT = 1000;

/** Most document lines one insert carries: 12 columns a line, well under the bind-parameter limit. */
const LINES_PER_INSERT = 2000;

/**
 * Most bytes of entity data one statement of a batch carries: documents with thousands of lines are
 * megabytes each, and a hundred of them in one parameter would be a 100 MB string in the worker and in
 * Postgres at once; they go in several statements instead.
 */
const BYTES_PER_STATEMENT = 4 * 1024 * 1024;

/** Consecutive runs of `items`, each at most `count` items and (but for a single larger item) `bytes` by `sizeOf`. */
function chunks<T>(items: readonly T[], count: number, bytes = Infinity, sizeOf: (item: T) => number = () => 0): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemSize = sizeOf(item);
    if (current.length > 0 && (current.length >= count || size + itemSize > bytes)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemSize;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * `writeRecord` for many records at once (reconciliation's bulk lane, `commitMany`), each a different
 * entity: per kind one statement reads the stored versions (and whether each row already holds what its
 * record would write), the version rule decides per record in memory, one multi-row upsert writes the
 * winners, and a document kind's old lines go in one delete and the new ones in multi-row inserts. The
 * transaction holds every entity's lock already. Kinds go in WRITE_ORDER, so foreign keys hold at each
 * statement; changes are pushed in the records' own order, as `writeRecord` one by one would.
 * A hundred documents cost a handful of statements instead of four round trips each.
 */
async function writeRecordsTogether(tx: Transaction, tenantId: number, records: readonly EntityRecord[], changes: PendingChange[] | undefined): Promise<Map<EntityRecord, CommitOutcome>> {
  const outcomes = new Map<EntityRecord, CommitOutcome>();
  const changeOf = new Map<EntityRecord, PendingChange>();
  for (const kind of WRITE_ORDER) {
    const ofKind = records.filter((r) => r.kind === kind);
    if (ofKind.length === 0) continue;
    const d = descriptor(kind);
    const t = d.table;
    // Each record's data serialised once: it is compared in the read and sized for the statements.
    const dataText = new Map(ofKind.map((r) => [r, JSON.stringify(r.data)]));
    const sizeOf = (r: EntityRecord) => dataText.get(r)?.length ?? 0;
    const sameStatus = d.status ? sql`${d.status} is not distinct from n.status` : sql`true`;
    const storedOf = new Map<number, StoredVersion & { number: number; same: boolean }>();
    for (const part of chunks(ofKind, ROWS_PER_INSERT, BYTES_PER_STATEMENT, sizeOf)) {
      const incoming = `[${part.map((r) => `{"number":${r.number},"data":${dataText.get(r) ?? 'null'},"last_updated":${JSON.stringify(observationOf(r).lastUpdated?.toISOString() ?? null)},"status":${JSON.stringify(r.status ?? 'draft')}}`).join(',')}]`;
      const stored = (await tx
        .select({
          number: d.number,
          lastUpdated: t.lastUpdated,
          syncedAt: t.syncedAt,
          deletedAt: t.deletedAt,
          same: sql<boolean>`(${t.data} = n.data and ${t.lastUpdated} is not distinct from n.last_updated and ${sameStatus})`,
        })
        .from(t)
        .innerJoin(sql`jsonb_to_recordset(${incoming}::jsonb) as n(number integer, data jsonb, last_updated timestamptz, status text)`, sql`n.number = ${d.number}`)
        .where(eq(t.tenantId, tenantId))) as Array<StoredVersion & { number: number; same: boolean }>;
      for (const row of stored) storedOf.set(row.number, row);
    }
    const winners: EntityRecord[] = [];
    for (const record of ofKind) {
      const decision = decide(record, storedOf.get(record.number));
      outcomes.set(record, decision.outcome);
      if (decision.outcome === 'stale') continue;
      winners.push(record);
      if (decision.change) changeOf.set(record, decision.change);
    }
    if (winners.length === 0) continue;
    const columns = getTableColumns(t) as Record<string, { name: string }>;
    for (const batch of chunks(winners, ROWS_PER_INSERT, BYTES_PER_STATEMENT, sizeOf)) {
      const rows = batch.map((record) => ({ tenantId, ...rowValues(d, record) }));
      const set = Object.fromEntries(
        Object.keys(rows[0] ?? {})
          .filter((key) => key !== 'tenantId' && key !== d.numberKey)
          .map((key) => [key, excluded(columns[key] ?? { name: key })]),
      );
      await tx.insert(t).values(rows).onConflictDoUpdate({ target: [t.tenantId, d.number], set });
    }
    if (d.documentType) {
      const documentType = d.documentType;
      // The documents' old lines, then their new ones (the statements of one transaction see each other).
      for (const batch of chunks(winners, ROWS_PER_INSERT)) {
        await tx
          .delete(economicDocumentLines)
          .where(and(eq(economicDocumentLines.tenantId, tenantId), eq(economicDocumentLines.documentType, documentType), inArray(economicDocumentLines.documentNumber, batch.map((r) => r.number))));
      }
      const lines = winners.flatMap((record) => lineRows(tenantId, documentType, record));
      for (const batch of chunks(lines, LINES_PER_INSERT)) await tx.insert(economicDocumentLines).values(batch);
    }
  }
  if (changes) {
    for (const record of records) {
      const change = changeOf.get(record);
      if (change) changes.push(change);
    }
  }
  return outcomes;
}

/**
 * Renumbering: the row (and its lines) moves to the new number, so the time-registration application
 * keeps its history of the entity. If the new number already has a row, the old one is marked deleted
 * with its lines. Either only when "the old number is gone", seen at `fetchedAt`, is newer than what the
 * store holds of the old number (the version rule): a later sync may have seen it alive again. Returns
 * whether the row moved.
 */
async function moveRenumbered(tx: Transaction, tenantId: number, record: EntityRecord, from: number, changes: PendingChange[]): Promise<boolean> {
  const { kind, number: to } = record;
  const fetchedAt = new Date(record.fetchedAt);
  const d = descriptor(kind);
  const old = await storedVersion(tx, d, tenantId, from);
  // A deleted old row still moves: its history belongs to the new number.
  if (!old || (!old.deletedAt && !supersedes(goneAt(fetchedAt), old))) return false;
  if (await storedVersion(tx, d, tenantId, to)) {
    await markRowDeleted(tx, d, tenantId, kind, from, fetchedAt, changes);
    return false;
  }
  changes.push({ kind, number: to, change: 'renumbered', oldNumber: from, lastUpdated: record.lastUpdated ? new Date(record.lastUpdated) : null });
  // Foreign keys from documents to customers and projects cascade on update.
  await tx.update(d.table).set({ [d.numberKey]: to }).where(whereEntity(d, tenantId, from));
  if (d.documentType) {
    await tx.update(economicDocumentLines).set({ documentNumber: to }).where(linesOf(tenantId, d.documentType, from));
  }
  return true;
}

async function writeSyncOutcome(db: Database | Transaction, input: SyncOutcomeRecord): Promise<void> {
  await syncOutcomeStatement(db, [input]);
}

/**
 * The upsert of syncs' outcomes into `sync_state` (one row per entity): a statement of its own, or a CTE
 * riding on a record's write; one outcome for a sync, many for a bulk commit.
 */
function syncOutcomeStatement(db: Database | Transaction, inputs: readonly SyncOutcomeRecord[]) {
  const now = new Date();
  const rows = inputs.map((input) => {
    const failed = input.outcome === 'failed';
    return {
      tenantId: input.tenantId,
      kind: input.kind,
      number: input.number,
      workflowId: input.workflowId,
      lastOutcome: input.outcome,
      lastErrorType: input.errorType ?? null,
      lastError: input.error ?? null,
      lastAttemptAt: now,
      attempts: 1,
      lastSuccessAt: failed ? null : now,
      pendingOldNumber: failed ? (input.oldNumber ?? null) : null,
    };
  });
  return db
    .insert(syncState)
    .values(rows)
    .onConflictDoUpdate({
      target: [syncState.tenantId, syncState.kind, syncState.number],
      set: {
        workflowId: excluded(syncState.workflowId),
        lastOutcome: excluded(syncState.lastOutcome),
        lastErrorType: excluded(syncState.lastErrorType),
        lastError: excluded(syncState.lastError),
        lastAttemptAt: excluded(syncState.lastAttemptAt),
        attempts: sql`${syncState.attempts} + 1`,
        // A failure keeps the last success; a success applied any pending renumbering (the sync read it),
        // a failure keeps it, or records its own.
        lastSuccessAt: sql`coalesce(${excluded(syncState.lastSuccessAt)}, ${syncState.lastSuccessAt})`,
        pendingOldNumber: sql`case when ${excluded(syncState.lastOutcome)} = 'failed' then coalesce(${excluded(syncState.pendingOldNumber)}, ${syncState.pendingOldNumber}) end`,
      },
    });
}

export interface EntityStoreOptions {
  /**
   * Record changes in the change feed (default). Only the bench turns it off, to measure what the feed
   * costs per commit against the same store without it; the service always records.
   */
  changeFeed?: boolean;
}

export function createEntityStore(db: Database, storeOptions: EntityStoreOptions = {}) {
  const feed = storeOptions.changeFeed ?? true;
  /** The stored versions of a listing page's numbers, by number. */
  async function versionsOf(tenantId: number, kind: EntityKind, numbers: number[]): Promise<Map<number, StoredEntity>> {
    if (numbers.length === 0) return new Map();
    const d = descriptor(kind);
    const rows = (await db
      .select(storedEntityFields(d))
      .from(d.table)
      .where(and(eq(d.table.tenantId, tenantId), inArray(d.number, numbers)))) as StoredEntity[];
    return new Map(rows.map((r) => [r.number, r]));
  }

  /** Live drafts per query, at most `limit` each (the store's `openDraftInvoicesOf`). */
  async function openDraftInvoicesOf(tenantId: number, queries: readonly DraftInvoiceQuery[], limit: number): Promise<number[][]> {
    const found: number[][] = queries.map(() => []);
    if (queries.length === 0) return found;
    const t = economicDraftInvoices;
    const keys = sql.join(
      queries.map((q, i) => sql`(${i}::int, ${q.customerNumber}::int, ${q.netAmount ?? null}::numeric, ${q.currency ?? null}::text)`),
      sql`, `,
    );
    const rows = await queryRows<{ i: number; n: number }>(
      db,
      sql`select i, n from (
            select k.i, ${t.draftInvoiceNumber} as n, row_number() over (partition by k.i) as rank
            from (values ${keys}) as k(i, customer_number, net_amount, currency)
            join ${t} on ${t.tenantId} = ${tenantId} and ${t.customerNumber} = k.customer_number and ${t.deletedAt} is null
              and (k.net_amount is null or ${t.netAmount} = k.net_amount) and (k.currency is null or ${t.currency} = k.currency)
          ) ranked where rank <= ${limit}`,
    );
    for (const row of rows) found[Number(row.i)]?.push(Number(row.n));
    return found;
  }

  /** The stored version of one entity, if any (deleted rows included). */
  async function find(tenantId: number, kind: EntityKind, number: number): Promise<StoredEntity | undefined> {
    return (await versionsOf(tenantId, kind, [number])).get(number);
  }

  /**
   * The stored versions of a record's dependencies by storedKey (undefined: none stored), in one statement
   * whatever their kinds, where `find` would take one each: a document names a customer and a project.
   */
  async function findDependencies(tenantId: number, deps: readonly DependencyRef[]): Promise<Map<string, StoredEntity | undefined>> {
    const found = new Map<string, StoredEntity | undefined>(deps.map((dep) => [storedKey(dep.kind, dep.number), undefined]));
    const perKind = [...new Set(deps.map((dep) => dep.kind))].map((kind) => {
      const d = descriptor(kind);
      const numbers = deps.filter((dep) => dep.kind === kind).map((dep) => dep.number);
      // Customers and projects have no status or remainder: the StoredEntity columns line up.
      return db
        .select({ kind: sql<EntityKind>`${kind}::text`.as('kind'), ...storedEntityFields(d) })
        .from(d.table)
        .where(and(eq(d.table.tenantId, tenantId), inArray(d.number, numbers)));
    });
    const [first, second, ...rest] = perKind;
    if (!first) return found;
    const rows = (second ? await unionAll(first, second, ...rest) : await first) as Array<StoredEntity & { kind: EntityKind }>;
    for (const { kind, ...stored } of rows) found.set(storedKey(kind, stored.number), stored);
    return found;
  }

  return {
    versionsOf,
    find,
    findDependencies,

    /**
     * What a sync reads of the store before its first fetch, in one statement instead of one each: the
     * renumbering a failed sync left to apply (`sync_state`), the entity's stored row (an order's or
     * quote's status says where to look for it first) and the customer and project that row names (the
     * dependencies the fetched entity usually names again). `find` answers those rows from this read and
     * reads any other; what it answers is as of this read, so a sync uses it for its first round only.
     */
    async syncStart(tenantId: number, kind: EntityKind, number: number): Promise<SyncStart> {
      const d = descriptor(kind);
      const references = Object.entries(d.references ?? {}).map(([refKind, column]) => ({ kind: refKind as EntityKind, d: descriptor(refKind as EntityKind), column }));
      // The tenant's own row is the base, so every part is a left join that may find nothing. A referenced
      // table is never the entity's own (a document names customers and projects, a project a customer),
      // so each is joined under its own name.
      let query = db
        .select({
          pendingOldNumber: syncState.pendingOldNumber,
          entity: storedEntityFields(d),
          ...Object.fromEntries(references.map((r) => [r.kind, storedEntityFields(r.d)])),
        })
        .from(tenants)
        .leftJoin(syncState, and(eq(syncState.tenantId, tenants.id), eq(syncState.kind, kind), eq(syncState.number, number)))
        .leftJoin(d.table, and(eq(d.table.tenantId, tenants.id), eq(d.number, number)))
        .$dynamic();
      for (const r of references) query = query.leftJoin(r.d.table, and(eq(r.d.table.tenantId, tenants.id), eq(r.d.number, r.column)));
      const [row] = (await query.where(eq(tenants.id, tenantId))) as Array<{ pendingOldNumber: number | null } & Record<string, StoredEntity | null>>;
      const known = new Map<string, StoredEntity | undefined>([[storedKey(kind, number), row?.entity ?? undefined]]);
      for (const r of references) {
        const stored = row?.[r.kind];
        if (stored) known.set(storedKey(r.kind, stored.number), stored);
      }
      const isKnown = (t: number, key: string) => t === tenantId && known.has(key);
      return {
        pendingOldNumber: row?.pendingOldNumber ?? undefined,
        find: (t, k, n) => (isKnown(t, storedKey(k, n)) ? Promise.resolve(known.get(storedKey(k, n))) : find(t, k, n)),
        async findDependencies(t, deps) {
          const unknown = deps.filter((dep) => !isKnown(t, storedKey(dep.kind, dep.number)));
          const read = unknown.length > 0 ? await findDependencies(t, unknown) : new Map<string, StoredEntity | undefined>();
          return new Map(deps.map((dep) => storedKey(dep.kind, dep.number)).map((key) => [key, isKnown(t, key) ? known.get(key) : read.get(key)]));
        },
      };
    },

    /** Numbers of live rows that the run did not record as seen in its scope (an anti-join: bounded memory). */
    async unseenRows(tenantId: number, q: UnseenRowsQuery): Promise<number[]> {
      const rows = await unseenRowsQuery(db, tenantId, q);
      return rows.map((r) => r.number as number);
    },

    /** How many rows `unseenRows` would hand out from the start: reconciliation's deletion guard reads it first. */
    async countUnseenRows(tenantId: number, q: Omit<UnseenRowsQuery, 'after' | 'limit'>): Promise<number> {
      const d = descriptor(q.kind);
      const [row] = await db
        .select({ n: sql<number | string>`count(*)` })
        .from(d.table)
        .where(unseenConditions(tenantId, { ...q, after: 0, limit: 0 }));
      return Number(row?.n ?? 0);
    },

    /** The tenant's live rows over every kind: what the deletion guard's share is taken of. */
    async liveRowCount(tenantId: number): Promise<number> {
      const perKind = sql.join(
        ENTITY_KINDS.map((kind) => sql`select count(*) as n from ${sql.identifier(getTableName(descriptor(kind).table))} where tenant_id = ${tenantId} and deleted_at is null`),
        sql` union all `,
      );
      const [row] = await queryRows<{ n: number | string | null }>(db, sql`select sum(n) as n from (${perKind}) k`);
      return Number(row?.n ?? 0);
    },

    /** The highest number stored for the kind (deleted rows included), or null. */
    async highestNumber(tenantId: number, kind: EntityKind): Promise<number | null> {
      const d = descriptor(kind);
      const [row] = await db
        .select({ max: sql<number | string | null>`max(${d.number})` })
        .from(d.table)
        .where(eq(d.table.tenantId, tenantId));
      return row?.max === null || row?.max === undefined ? null : Number(row.max);
    },

    /** A customer's live draft invoices, optionally only those with this amount and currency. */
    async openDraftInvoices(tenantId: number, q: DraftInvoiceQuery & { limit: number }): Promise<number[]> {
      return (await openDraftInvoicesOf(tenantId, [q], q.limit))[0] ?? [];
    },

    /**
     * `openDraftInvoices` for many queries in one statement (the bulk lane's booked invoices of a page):
     * one pass over the tenant's drafts, at most `limit` per query; the answer is aligned with `queries`.
     */
    openDraftInvoicesOf,

    /**
     * Commits records in the order given (dependencies first, the entity they belong to last) in one
     * transaction; with `sync`, the sync's outcome too. Returns each record's outcome, in order.
     */
    async commit(tenantId: number, records: EntityRecord[], options: CommitOptions = {}): Promise<CommitOutcome[]> {
      const entity = records.at(-1);
      if (!entity) return [];
      const renumberedFrom = options.renumberedFrom !== undefined && options.renumberedFrom !== entity.number ? options.renumberedFrom : undefined;
      return withoutParameters(() => db.transaction(async (tx) => {
        const exclusive = records.map((r) => lockKey(tenantId, r.kind, r.number));
        if (renumberedFrom !== undefined) exclusive.push(lockKey(tenantId, entity.kind, renumberedFrom));
        const shared = records.flatMap((r) => dependenciesOf(r).map((dep) => lockKey(tenantId, dep.kind, dep.number)));
        await lockEntities(tx, { exclusive, shared });
        const outcomes: CommitOutcome[] = [];
        const changes: PendingChange[] = [];
        const outcome: SyncOutcomeRecord | undefined = options.sync && { tenantId, kind: entity.kind, number: entity.number, workflowId: options.sync.workflowId, outcome: 'synced' };
        // The sync's outcome rides on the entity's own write (one round trip less); a stale entity has none.
        const withOutcome = outcome ? [tx.$with('sync_outcome').as(syncOutcomeStatement(tx, [outcome]))] : [];
        for (const record of records) {
          const moved = record === entity && renumberedFrom !== undefined && (await moveRenumbered(tx, tenantId, entity, renumberedFrom, changes));
          outcomes.push(await writeRecord(tx, tenantId, record, feed ? changes : undefined, moved, record === entity ? withOutcome : []));
        }
        if (outcome && outcomes.at(-1) === 'stale') await writeSyncOutcome(tx, outcome);
        if (feed) await appendChanges(tx, tenantId, changes);
        return outcomes;
      }));
    },

    /**
     * Commits many entities in one transaction (reconciliation's bulk lane, activities/bulk-sync.ts): each
     * group is what `commit` takes for one entity (its dependencies first, the entity last), all under one
     * set of locks taken up front in the canonical order, the version rule per record, each entity's sync
     * outcome in `sync_state` and the change feed in the same transaction. A record shared by groups (a
     * customer of many orders) is written once. The records are written together, a few statements per
     * kind rather than several per record (writeRecordsTogether). Returns each group's outcomes; on an integrity violation
     * nothing is written and the error is thrown (the caller commits the groups one by one to find it).
     */
    async commitMany(tenantId: number, groups: Array<{ records: EntityRecord[]; sync?: SyncRef }>): Promise<CommitOutcome[][]> {
      if (groups.length === 0) return [];
      return withoutParameters(() => db.transaction(async (tx) => {
        const all = groups.flatMap((g) => g.records);
        const exclusive = all.map((r) => lockKey(tenantId, r.kind, r.number));
        const shared = all.flatMap((r) => dependenciesOf(r).map((dep) => lockKey(tenantId, dep.kind, dep.number)));
        await lockEntities(tx, { exclusive, shared });
        const changes: PendingChange[] = [];
        // Each record once (a customer of many orders is one record object in many groups).
        const unique = [...new Set(all)];
        const oneObjectPerEntity = new Set(unique.map((r) => lockKey(tenantId, r.kind, r.number))).size === unique.length;
        let written: Map<EntityRecord, CommitOutcome>;
        if (oneObjectPerEntity) {
          written = await writeRecordsTogether(tx, tenantId, unique, feed ? changes : undefined);
        } else {
          // Two observations of one entity: one after the other, each under the version rule.
          written = new Map();
          for (const record of unique) written.set(record, await writeRecord(tx, tenantId, record, feed ? changes : undefined));
        }
        const result = groups.map((group) => group.records.map((record) => written.get(record) as CommitOutcome));
        const outcomes = new Map<string, SyncOutcomeRecord>();
        for (const group of groups) {
          const entity = group.records.at(-1);
          // One row per entity: an upsert may not touch a row twice.
          if (group.sync && entity) outcomes.set(lockKey(tenantId, entity.kind, entity.number), { tenantId, kind: entity.kind, number: entity.number, workflowId: group.sync.workflowId, outcome: 'synced' });
        }
        for (const batch of chunks([...outcomes.values()], ROWS_PER_INSERT)) await syncOutcomeStatement(tx, batch);
        if (feed) await appendChanges(tx, tenantId, changes);
        return result;
      }));
    },

    /**
     * The numbers among these whose `sync_state` asks for the entity workflow: a failed last sync, or a
     * renumbering a failed sync left to apply (reconciliation's bulk lane hands those over).
     */
    async needingWorkflow(tenantId: number, kind: EntityKind, numbers: number[]): Promise<Set<number>> {
      if (numbers.length === 0) return new Set();
      const rows = await db
        .select({ number: syncState.number })
        .from(syncState)
        .where(
          and(
            eq(syncState.tenantId, tenantId),
            eq(syncState.kind, kind),
            inArray(syncState.number, numbers),
            sql`(${syncState.lastOutcome} = 'failed' or ${syncState.pendingOldNumber} is not null)`,
          ),
        );
      return new Set(rows.map((r) => r.number));
    },

    /**
     * e-conomic no longer has the entity: mark it (and its lines) deleted, unless a newer sync wrote it.
     * With `sync`, its outcome (`deleted`, or `synced` when there was nothing to mark) in the same transaction.
     */
    async markDeleted(tenantId: number, kind: EntityKind, number: number, fetchedAtIso: string, options: { sync?: SyncRef } = {}): Promise<DeleteOutcome> {
      const d = descriptor(kind);
      const fetchedAt = new Date(fetchedAtIso);
      return withoutParameters(() => db.transaction(async (tx) => {
        await lockEntities(tx, { exclusive: [lockKey(tenantId, kind, number)], shared: [] });
        const changes: PendingChange[] = [];
        const outcome = await markRowDeleted(tx, d, tenantId, kind, number, fetchedAt, changes);
        if (options.sync) await writeSyncOutcome(tx, { tenantId, kind, number, workflowId: options.sync.workflowId, outcome: outcome === 'deleted' ? 'deleted' : 'synced' });
        if (feed) await appendChanges(tx, tenantId, changes);
        return outcome;
      }));
    },

    /** Records a sync's outcome on its own (a sync that failed for good, with the renumbering it did not apply). */
    recordOutcome: (input: SyncOutcomeRecord): Promise<void> => withoutParameters(() => writeSyncOutcome(db, input)),

    /** Entities whose last sync failed (`retry-failed`), optionally of one tenant. */
    async failedSyncs(tenant?: string): Promise<FailedSync[]> {
      return queryRows<FailedSync & Record<string, unknown>>(
        db,
        sql`select s.tenant_id as "tenantId", t.name as tenant, s.kind, s.number
              from sync_state s join tenants t on t.id = s.tenant_id
             where s.last_outcome = 'failed' and ${tenant === undefined ? sql`true` : sql`t.name = ${tenant}`}
             order by s.tenant_id, s.kind, s.number`,
      );
    },

    /**
     * Live documents committed without their project reference because the project was unreadable (403):
     * `project_number` null while e-conomic's data names a project. Synced again once projects are readable.
     */
    async documentsWithUnresolvedProject(tenantId: number): Promise<Array<{ kind: EntityKind; number: number }>> {
      const out: Array<{ kind: EntityKind; number: number }> = [];
      for (const kind of ENTITY_KINDS) {
        const d = descriptor(kind);
        if (!d.documentType) continue;
        const rows = await queryRows<{ number: number }>(
          db,
          sql`select ${d.number} as number from ${d.table}
               where ${d.table.tenantId} = ${tenantId} and ${d.table.deletedAt} is null
                 and project_number is null and ${d.table.data} -> 'project' ->> 'projectNumber' is not null`,
        );
        out.push(...rows.map((r) => ({ kind, number: r.number })));
      }
      return out;
    },

    /** The tenant's entities whose last sync failed with one of these failure types. */
    async failedSyncsOfTypes(tenantId: number, types: readonly string[]): Promise<Array<{ kind: string; number: number }>> {
      return queryRows<{ kind: string; number: number }>(
        db,
        sql`select kind, number from sync_state
             where tenant_id = ${tenantId} and last_outcome = 'failed' and last_error_type in (${sql.join(types.map((t) => sql`${t}`), sql`, `)})
             order by kind, number`,
      );
    },

    /** Per tenant and kind: live and deleted rows, the last sync, failed syncs, access (403), and the tenant's binding and credentials. */
    async statusByKind(tenant?: string): Promise<KindStatus[]> {
      const perKind = sql.join(
        ENTITY_KINDS.map(
          (kind) =>
            sql`select tenant_id, ${kind}::text as kind, count(*) filter (where deleted_at is null)::int as rows,
                       count(*) filter (where deleted_at is not null)::int as deleted, max(synced_at) as last_sync
                  from ${sql.identifier(getTableName(descriptor(kind).table))} group by tenant_id`,
        ),
        sql` union all `,
      );
      const rows = await queryRows<{
        tenant: string;
        agreement: number | null;
        credentials: string | null;
        refused: number | null;
        kind: EntityKind;
        forbidden: boolean;
        rows: number;
        deleted: number;
        last_sync: Date | string | null;
        failed: number;
      }>(
        db,
        sql`with kinds(kind) as (values ${sql.join(ENTITY_KINDS.map((kind) => sql`(${kind}::text)`), sql`, `)}),
                 counts as (${perKind}),
                 failures as (select tenant_id, kind, count(*)::int as failed from sync_state where last_outcome = 'failed' group by tenant_id, kind)
            select t.name as tenant, c.agreement_number as agreement, c.refused_agreement_number as refused,
                   case when c.grant_ciphertext is not null then c.status
                        when exists (select 1 from grant_candidates g where g.tenant_id = t.id and g.ciphertext is not null) then 'unverified'
                   end as credentials,
                   k.kind, (a.kind is not null) as forbidden,
                   coalesce(n.rows, 0) as rows, coalesce(n.deleted, 0) as deleted, n.last_sync, coalesce(f.failed, 0) as failed
              from tenants t
              cross join kinds k
              left join tenant_credentials c on c.tenant_id = t.id
              left join counts n on n.tenant_id = t.id and n.kind = k.kind
              left join failures f on f.tenant_id = t.id and f.kind = k.kind
              left join tenant_kind_access a on a.tenant_id = t.id and a.kind = k.kind
             where ${tenant === undefined ? sql`true` : sql`t.name = ${tenant}`}
             order by t.name, k.kind`,
      );
      return rows.map((r) => ({
        tenant: r.tenant,
        agreement: r.agreement,
        credentials: r.credentials,
        refusedAgreement: r.refused,
        kind: r.kind,
        access: r.forbidden ? ('forbidden' as const) : ('ok' as const),
        rows: r.rows,
        deleted: r.deleted,
        lastSync: r.last_sync === null ? null : new Date(r.last_sync),
        failed: r.failed,
      }));
    },
  };
}

/** Marks a live row deleted (pushing the change onto `changes`); a row already marked is no change. */
async function markRowDeleted(tx: Transaction, d: EntityKindDescriptor, tenantId: number, kind: EntityKind, number: number, fetchedAt: Date, changes: PendingChange[]): Promise<DeleteOutcome> {
  const stored = await storedVersion(tx, d, tenantId, number);
  if (!stored) return 'absent';
  if (stored.deletedAt) return 'deleted';
  if (!supersedes(goneAt(fetchedAt), stored)) return 'stale';
  changes.push({ kind, number, change: 'deleted', lastUpdated: stored.lastUpdated });
  await tx.update(d.table).set({ deletedAt: fetchedAt, syncedAt: fetchedAt }).where(whereEntity(d, tenantId, number));
  if (d.documentType) {
    await tx
      .update(economicDocumentLines)
      .set({ deletedAt: fetchedAt })
      .where(and(linesOf(tenantId, d.documentType, number), isNull(economicDocumentLines.deletedAt)));
  }
  return 'deleted';
}

export type EntityStore = ReturnType<typeof createEntityStore>;
