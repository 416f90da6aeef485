// Group commit of the Postgres inbox (docs/webhook.md, "Durable acceptance"): when many webhooks go to
// the inbox at once, each one's `sync_events` row is not inserted on its own; a committer gathers the
// rows waiting and writes them in one multi-row insert (one statement, one transaction), and each
// request's promise settles only once that insert has committed. A 202 therefore still means durable.
// A failed or timed-out group commit rejects every row in it, so each of those requests answers 503 as
// a single failed insert did before; nothing is acknowledged that is not durable. Batching is adaptive:
// an idle service writes a lone row at once (the same round trip as before), and while `maxConcurrent`
// inserts are in flight the rows that arrive meanwhile wait and go together in the next one.
import { sql } from 'drizzle-orm';
import type { syncEvents } from '../db/schema';
import type { Database } from '../db/client';
import { withTimeout } from '../util/with-timeout';

export type InboxRow = typeof syncEvents.$inferInsert;

/**
 * Inserts `sync_events` rows in one statement with one parameter (the rows as JSON), in the given
 * order (so `seq` follows arrival). Drizzle's multi-row insert builds one parameter per value, which
 * costs about 0.4 ms of CPU per row on the 2-core bench machine: more than the insert itself.
 */
export async function insertSyncEventRows(db: Database, rows: readonly InboxRow[], options: { ignoreDuplicates?: boolean } = {}): Promise<void> {
  if (rows.length === 0) return;
  const json = JSON.stringify(
    rows.map((r) => ({
      event_id: r.eventId,
      tenant_id: r.tenantId,
      source: r.source,
      kind: r.kind,
      number: r.number,
      old_number: r.oldNumber ?? null,
      received_at: r.receivedAt,
      workflow_id: r.workflowId,
      outcome: r.outcome,
      relayed_at: r.relayedAt ?? null,
    })),
  );
  await db.execute(sql`insert into sync_events (event_id, tenant_id, source, kind, number, old_number, received_at, workflow_id, outcome, relayed_at)
    select r.event_id, r.tenant_id, r.source, r.kind, r.number, r.old_number, r.received_at, r.workflow_id, r.outcome, r.relayed_at
      from rows from (json_to_recordset(${json}::json) as (event_id uuid, tenant_id integer, source text, kind text, number integer,
             old_number integer, received_at timestamptz, workflow_id text, outcome text, relayed_at timestamptz)) with ordinality as r
     order by r.ordinality
    ${options.ignoreDuplicates ? sql`on conflict (event_id) do nothing` : sql``}`);
}

export interface InboxWriter {
  /** Resolves once the row is committed; rejects when it could not be (in time). */
  write(row: InboxRow): Promise<void>;
  /** Rows waiting for their group commit (not yet in an insert). */
  readonly waiting: number;
}

export interface InboxWriterOptions {
  db: Database;
  /** Most rows in one insert. */
  maxBatch?: number;
  /** Inserts in flight at once (each holds one pooled connection). */
  maxConcurrent?: number;
  /** Deadline of a row, from `write` until its group commit committed. */
  timeoutMs?: number;
  /** Called with the number of rows of each committed group. */
  onCommit?: (rows: number) => void;
}

export const INBOX_WRITER_DEFAULTS = { maxBatch: 500, maxConcurrent: 4, timeoutMs: 10_000 };

interface Waiter {
  row: InboxRow;
  since: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export function createInboxWriter(options: InboxWriterOptions): InboxWriter {
  const maxBatch = options.maxBatch ?? INBOX_WRITER_DEFAULTS.maxBatch;
  const maxConcurrent = options.maxConcurrent ?? INBOX_WRITER_DEFAULTS.maxConcurrent;
  const timeoutMs = options.timeoutMs ?? INBOX_WRITER_DEFAULTS.timeoutMs;
  let queue: Waiter[] = [];
  let inFlight = 0;
  let scheduled = false;

  const commit = async (group: Waiter[]): Promise<void> => {
    try {
      // One deadline per row, from the moment it was handed over: its wait for the group commit to begin counts.
      const left = Math.max(1, timeoutMs - (Date.now() - Math.min(...group.map((w) => w.since))));
      await withTimeout(insertSyncEventRows(options.db, group.map((w) => w.row)), left, 'inbox insert');
      options.onCommit?.(group.length);
      for (const w of group) w.resolve();
    } catch (err) {
      // A row the database refuses (a constraint: e.g. its tenant was just removed) must not fail the
      // others it happened to share a statement with: those are written one by one. Anything else
      // (connection, timeout) fails the whole group.
      const code = (err as { code?: unknown; cause?: { code?: unknown } }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
      if (group.length > 1 && typeof code === 'string' && code.startsWith('23')) {
        await Promise.all(group.map((w) => commit([w])));
        return;
      }
      const error = err instanceof Error ? err : new Error(String(err));
      for (const w of group) w.reject(error);
    }
  };

  const pump = () => {
    scheduled = false;
    while (inFlight < maxConcurrent && queue.length > 0) {
      const now = Date.now();
      // A row that waited a whole deadline for its turn is refused without being written.
      const stale = queue.filter((w) => now - w.since >= timeoutMs);
      if (stale.length > 0) {
        queue = queue.filter((w) => now - w.since < timeoutMs);
        for (const w of stale) w.reject(new Error('inbox insert timed out waiting for its group commit'));
        continue;
      }
      const group = queue.splice(0, maxBatch);
      inFlight += 1;
      void commit(group).finally(() => {
        inFlight -= 1;
        pump();
      });
    }
  };

  return {
    get waiting() {
      return queue.length;
    },
    write(row) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ row, since: Date.now(), resolve, reject });
        // Rows arriving in the same turn of the event loop go together even on an idle service.
        if (!scheduled && inFlight < maxConcurrent) {
          scheduled = true;
          setImmediate(pump);
        }
      });
    },
  };
}
