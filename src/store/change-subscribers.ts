// Outbound webhook subscribers of the change feed and their delivery bookkeeping (docs/change-feed.md):
// who subscribes (one tenant, or every tenant), how far each has received each tenant's changes, and the
// changes it did not accept in time (dead letters). The delivery itself is activities/deliver-changes.ts.
import { and, asc, count, eq, isNull, sql } from 'drizzle-orm';
import { queryRows, type Database } from '../db/client';
import { tenantLockKey, type ChangeRow } from './change-log';
import { changeDeadLetters, changeSubscriberProgress, changeSubscribers, tenants, type ChangeKind } from '../db/schema';

export interface Subscriber {
  id: number;
  tenantId: number | null;
  url: string;
  secretEncrypted: string;
  removedAt: Date | null;
}

export interface SubscriberListing {
  id: number;
  tenant: string | null;
  url: string;
  createdAt: Date;
  removedAt: Date | null;
  deadLetters: number;
}

/** A change as it is delivered: a row of the log (./change-log.ts) with its tenant's id. */
export interface DeliverableChange extends ChangeRow {
  tenantId: number;
}

type Row = Record<string, unknown> & {
  cursor: string | number;
  tenant_id: number;
  tenant: string;
  kind: string;
  number: number;
  change: ChangeKind;
  old_number: number | null;
  last_updated: Date | string | null;
  changed_at: Date | string;
};

const toChange = (r: Row): DeliverableChange => ({
  cursor: Number(r.cursor),
  tenantId: r.tenant_id,
  tenant: r.tenant,
  kind: r.kind,
  number: r.number,
  change: r.change,
  oldNumber: r.old_number,
  lastUpdated: r.last_updated === null ? null : new Date(r.last_updated),
  changedAt: new Date(r.changed_at),
});

export function createSubscriberStore(db: Database) {
  return {
    /**
     * Adds a subscriber; it receives the changes committed after it. Exactly: its progress starts at each
     * tenant's latest cursor read under that tenant's append lock (./change-log.ts), so every append
     * either committed before (and is skipped) or draws a higher cursor after (and is delivered). It
     * takes no entity lock, so it cannot deadlock with a commit.
     */
    async add(input: { tenantId: number | null; url: string; secretEncrypted: string }): Promise<number> {
      return db.transaction(async (tx) => {
        const ids =
          input.tenantId !== null ? [input.tenantId] : (await tx.select({ id: tenants.id }).from(tenants).orderBy(asc(tenants.id))).map((r) => r.id);
        for (const id of ids) await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${tenantLockKey(id)}, 0))`);
        const [row] = await tx.insert(changeSubscribers).values(input).returning({ id: changeSubscribers.id });
        const subscriberId = row!.id;
        if (ids.length > 0) {
          await tx.execute(sql`
            insert into change_subscriber_progress (subscriber_id, tenant_id, cursor)
            select ${subscriberId}, t.id, coalesce((select max(c.cursor) from economic_changes c where c.tenant_id = t.id), 0)
              from tenants t where t.id in (${sql.join(ids.map((id) => sql`${id}`), sql`, `)})`);
        }
        return subscriberId;
      });
    },

    async get(id: number): Promise<Subscriber | undefined> {
      const [row] = await db.select().from(changeSubscribers).where(eq(changeSubscribers.id, id));
      return row ? { id: row.id, tenantId: row.tenantId, url: row.url, secretEncrypted: row.secretEncrypted, removedAt: row.removedAt } : undefined;
    },

    /** Ids of subscribers not removed (their delivery workflows must run). */
    async activeIds(): Promise<number[]> {
      const rows = await db.select({ id: changeSubscribers.id }).from(changeSubscribers).where(isNull(changeSubscribers.removedAt));
      return rows.map((r) => r.id);
    },

    async list(): Promise<SubscriberListing[]> {
      const dead = db
        .select({ subscriberId: changeDeadLetters.subscriberId, n: count().as('n') })
        .from(changeDeadLetters)
        .groupBy(changeDeadLetters.subscriberId)
        .as('dead');
      const rows = await db
        .select({ id: changeSubscribers.id, tenant: tenants.name, url: changeSubscribers.url, createdAt: changeSubscribers.createdAt, removedAt: changeSubscribers.removedAt, deadLetters: dead.n })
        .from(changeSubscribers)
        .leftJoin(tenants, eq(tenants.id, changeSubscribers.tenantId))
        .leftJoin(dead, eq(dead.subscriberId, changeSubscribers.id))
        .orderBy(asc(changeSubscribers.id));
      return rows.map((r) => ({ ...r, deadLetters: Number(r.deadLetters ?? 0) }));
    },

    /** Marks the subscriber removed; false when there is no such live subscriber. */
    async remove(id: number): Promise<boolean> {
      const rows = await db
        .update(changeSubscribers)
        .set({ removedAt: new Date() })
        .where(and(eq(changeSubscribers.id, id), isNull(changeSubscribers.removedAt)))
        .returning({ id: changeSubscribers.id });
      return rows.length > 0;
    },

    /**
     * The next changes the subscriber has not received, oldest first: per tenant after the tenant's
     * delivered cursor (from the first, for a tenant created after the subscriber).
     */
    async pending(subscriber: Subscriber, limit: number): Promise<DeliverableChange[]> {
      const rows = await queryRows<Row>(
        db,
        sql`select c.cursor, c.tenant_id, t.name as tenant, c.kind, c.number, c.change, c.old_number, c.last_updated, c.changed_at
              from economic_changes c
              join tenants t on t.id = c.tenant_id
              left join change_subscriber_progress p on p.subscriber_id = ${subscriber.id} and p.tenant_id = c.tenant_id
             where ${subscriber.tenantId === null ? sql`true` : sql`c.tenant_id = ${subscriber.tenantId}`}
               and c.cursor > coalesce(p.cursor, 0)
             order by c.cursor
             limit ${limit}`,
      );
      return rows.map(toChange);
    },

    /** The subscriber has received the tenant's changes up to `cursor`. */
    async advance(subscriberId: number, tenantId: number, cursor: number): Promise<void> {
      await db
        .insert(changeSubscriberProgress)
        .values({ subscriberId, tenantId, cursor })
        .onConflictDoUpdate({
          target: [changeSubscriberProgress.subscriberId, changeSubscriberProgress.tenantId],
          set: { cursor: sql`greatest(${changeSubscriberProgress.cursor}, excluded.cursor)`, deliveredAt: new Date() },
        });
    },

    /** Dead letters an operator asked to deliver again, oldest first. */
    async replayable(subscriberId: number, limit: number): Promise<DeliverableChange[]> {
      const rows = await queryRows<Row>(
        db,
        sql`select d.cursor, d.tenant_id, t.name as tenant, d.kind, d.number, d.change, d.old_number, d.last_updated, d.changed_at
              from change_dead_letters d join tenants t on t.id = d.tenant_id
             where d.subscriber_id = ${subscriberId} and d.replay_requested_at is not null
             order by d.cursor limit ${limit}`,
      );
      return rows.map(toChange);
    },

    /** A replayed dead letter was accepted. */
    async replayDelivered(subscriberId: number, cursor: number): Promise<void> {
      await db.delete(changeDeadLetters).where(and(eq(changeDeadLetters.subscriberId, subscriberId), eq(changeDeadLetters.cursor, cursor)));
    },

    /**
     * The change was not accepted within the attempt limit: kept as a dead letter, and (a first failure,
     * not a replay) the tenant's cursor moves past it, in one transaction.
     */
    async deadLetter(subscriberId: number, tenantId: number, cursor: number, error: string): Promise<void> {
      await db.transaction(async (tx) => {
        const moved = await tx
          .update(changeDeadLetters)
          .set({ replayRequestedAt: null, lastError: error, deadAt: new Date() })
          .where(and(eq(changeDeadLetters.subscriberId, subscriberId), eq(changeDeadLetters.cursor, cursor)))
          .returning({ cursor: changeDeadLetters.cursor });
        if (moved.length > 0) return;
        await tx.execute(sql`
          insert into change_dead_letters (subscriber_id, cursor, tenant_id, kind, number, change, old_number, last_updated, changed_at, last_error)
          select ${subscriberId}, cursor, tenant_id, kind, number, change, old_number, last_updated, changed_at, ${error}
            from economic_changes where cursor = ${cursor} and tenant_id = ${tenantId}
          on conflict do nothing`);
        await tx
          .insert(changeSubscriberProgress)
          .values({ subscriberId, tenantId, cursor })
          .onConflictDoUpdate({
            target: [changeSubscriberProgress.subscriberId, changeSubscriberProgress.tenantId],
            set: { cursor: sql`greatest(${changeSubscriberProgress.cursor}, excluded.cursor)` },
          });
      });
    },

    /** Asks for every dead letter of the subscriber to be delivered again; returns how many. */
    async requestReplay(subscriberId: number): Promise<number> {
      const rows = await db
        .update(changeDeadLetters)
        .set({ replayRequestedAt: new Date() })
        .where(eq(changeDeadLetters.subscriberId, subscriberId))
        .returning({ cursor: changeDeadLetters.cursor });
      return rows.length;
    },

    /** The subscriber's dead letters (cursor and error), oldest first. */
    async deadLetters(subscriberId: number): Promise<Array<{ cursor: number; replayRequested: boolean; lastError: string }>> {
      const rows = await db
        .select({ cursor: changeDeadLetters.cursor, replay: changeDeadLetters.replayRequestedAt, lastError: changeDeadLetters.lastError })
        .from(changeDeadLetters)
        .where(eq(changeDeadLetters.subscriberId, subscriberId))
        .orderBy(asc(changeDeadLetters.cursor));
      return rows.map((r) => ({ cursor: Number(r.cursor), replayRequested: r.replay !== null, lastError: r.lastError }));
    },
  };
}

export type SubscriberStore = ReturnType<typeof createSubscriberStore>;

