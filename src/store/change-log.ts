// The change feed's log (docs/change-feed.md): `economic_changes`, one row per committed change of an
// entity, written by the entity store inside the transaction of the change, and a `NOTIFY
// economic_changes` sent from that same transaction (Postgres delivers it on commit, never for a
// rollback). Readers (the `changes` CLI, outbound webhook delivery, the application itself) read by
// cursor per tenant.
//
// Why the cursor is safe to resume from: a sequence hands out numbers in the order transactions ask,
// not in the order they commit, so a reader could see cursor 6 committed while 5 is still in flight and
// skip 5 for good. The store therefore appends a transaction's rows as its last statements, under a
// transaction-scoped advisory lock per tenant held until commit (taken in the appending statement itself,
// one round trip for lock, rows and notifications): within a tenant, cursors become
// visible strictly in increasing order. The lock is always the last one a transaction takes (after
// every entity lock), so it adds no deadlock; it serialises only the tail (the append and the commit)
// of one tenant's commits.
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { queryRows, type Database, type Transaction } from '../db/client';
import { economicChanges, tenants, type ChangeKind } from '../db/schema';
import type { EntityKind } from '../shared/entities';

/** The NOTIFY channel (docs/change-feed.md). */
export const CHANGES_CHANNEL = 'economic_changes';

/** A change the store is about to commit. */
export interface PendingChange {
  kind: EntityKind;
  number: number;
  change: ChangeKind;
  oldNumber?: number;
  lastUpdated: Date | null;
}

/** One row of the log, as readers get it. */
export interface ChangeRow {
  cursor: number;
  tenant: string;
  kind: string;
  number: number;
  change: ChangeKind;
  oldNumber: number | null;
  lastUpdated: Date | null;
  changedAt: Date;
}

/** What NOTIFY carries: where to look, never entity data. */
export interface ChangeNotification {
  tenant: string;
  kind: string;
  number: number;
  change: ChangeKind;
  cursor: number;
}

/** The advisory lock key under which a tenant's changes are appended (see the header). */
export const tenantLockKey = (tenantId: number) => `economic_changes/${tenantId}`;

/**
 * Appends the transaction's changes and notifies: call it last in the transaction (see the header).
 * One statement inserts every row and sends one notification per row.
 */
export async function appendChanges(tx: Transaction, tenantId: number, changes: PendingChange[]): Promise<void> {
  if (changes.length === 0) return;
  const rows = sql.join(
    changes.map(
      (c) =>
        sql`(${tenantId}::integer, ${c.kind}::text, ${c.number}::integer, ${c.change}::text, ${c.oldNumber ?? null}::integer, ${c.lastUpdated?.toISOString() ?? null}::timestamptz)`,
    ),
    sql`, `,
  );
  // One round trip: the lock is a one-row subquery joined to the rows, so it is held before any row is
  // produced, and the cursors (nextval, in the insert's projection) are drawn under it.
  await tx.execute(sql`
    with appended as (
      insert into economic_changes (tenant_id, kind, number, change, old_number, last_updated)
      select v.tenant_id, v.kind, v.number, v.change, v.old_number, v.last_updated
        from (select pg_advisory_xact_lock(hashtextextended(${tenantLockKey(tenantId)}, 0)) as locked) l
       cross join (values ${rows}) as v(tenant_id, kind, number, change, old_number, last_updated)
      returning cursor, tenant_id, kind, number, change
    )
    select pg_notify(${CHANGES_CHANNEL}, json_build_object('tenant', t.name, 'kind', a.kind, 'number', a.number, 'change', a.change, 'cursor', a.cursor)::text)
      from appended a join tenants t on t.id = a.tenant_id
     order by a.cursor`);
}

/** Parses a NOTIFY payload; undefined for anything else. */
export function parseChangeNotification(payload: string): ChangeNotification | undefined {
  try {
    const v = JSON.parse(payload) as Partial<ChangeNotification>;
    if (typeof v.tenant === 'string' && typeof v.kind === 'string' && typeof v.number === 'number' && typeof v.change === 'string' && typeof v.cursor === 'number') {
      return { tenant: v.tenant, kind: v.kind, number: v.number, change: v.change, cursor: v.cursor };
    }
  } catch {
    // not ours
  }
  return undefined;
}

export function createChangeLog(db: Database) {
  return {
    /** The tenant's id by name, or undefined. */
    async tenantId(name: string): Promise<number | undefined> {
      const [row] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, name));
      return row?.id;
    },

    /** The tenant's changes after `cursor`, oldest first, at most `limit`. */
    async since(tenantId: number, cursor: number, limit: number): Promise<ChangeRow[]> {
      const rows = await db
        .select({
          cursor: economicChanges.cursor,
          tenant: tenants.name,
          kind: economicChanges.kind,
          number: economicChanges.number,
          change: economicChanges.change,
          oldNumber: economicChanges.oldNumber,
          lastUpdated: economicChanges.lastUpdated,
          changedAt: economicChanges.changedAt,
        })
        .from(economicChanges)
        .innerJoin(tenants, eq(tenants.id, economicChanges.tenantId))
        .where(and(eq(economicChanges.tenantId, tenantId), gt(economicChanges.cursor, cursor)))
        .orderBy(asc(economicChanges.cursor))
        .limit(limit);
      return rows.map((r) => ({ ...r, cursor: Number(r.cursor) }));
    },

    /** The tenant's latest cursor (0 before its first change). */
    async latestCursor(tenantId: number): Promise<number> {
      const [row] = await queryRows<{ max: string | number | null }>(db, sql`select max(cursor) as max from economic_changes where tenant_id = ${tenantId}`);
      return row?.max == null ? 0 : Number(row.max);
    },

    /**
     * Deletes rows changed before `olderThan`, in batches (short transactions); returns how many. A row a
     * live webhook subscriber has not received yet is kept (a subscriber down for longer than the
     * retention loses nothing; `subscribers remove` releases what it holds).
     */
    async prune(olderThan: Date, batch = 5000): Promise<number> {
      let total = 0;
      for (;;) {
        const deleted = await queryRows<{ cursor: number }>(
          db,
          sql`delete from economic_changes where cursor in (
                select c.cursor from economic_changes c
                 where c.changed_at < ${olderThan.toISOString()}::timestamptz
                   and not exists (
                     select 1 from change_subscribers s
                       left join change_subscriber_progress p on p.subscriber_id = s.id and p.tenant_id = c.tenant_id
                      where s.removed_at is null and (s.tenant_id is null or s.tenant_id = c.tenant_id)
                        and c.cursor > coalesce(p.cursor, 0))
                 order by c.cursor limit ${batch})
              returning cursor`,
        );
        total += deleted.length;
        if (deleted.length < batch) return total;
      }
    },
  };
}

export type ChangeLog = ReturnType<typeof createChangeLog>;

const DAY_MS = 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

/**
 * Prunes rows older than the retention now and then every hour, in this process (worker roles run it;
 * several processes pruning at once only delete the same rows). Pruning is a plain delete by age, so it
 * needs no Temporal schedule: a missed hour is made up by the next. Returns a stop function.
 */
export function startChangePruning(changeLog: ChangeLog, retentionDays: number, onError: (err: unknown) => void, onPruned?: (count: number) => void): () => void {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= changeLog
      .prune(new Date(Date.now() - retentionDays * DAY_MS))
      .then((count) => onPruned?.(count), onError)
      .finally(() => (running = undefined));
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, PRUNE_EVERY_MS);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
