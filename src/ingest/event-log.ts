// The audit trail of events signalled straight to Temporal: `sync_events` rows with outcome `signalled`,
// written in batches off the request path (the event is already durable in Temporal; the row is the
// read model's record of it). Failed batches are retried; the buffer is bounded, and an overflow is
// logged and counted, never blocking a webhook.
import type { syncEvents } from '../db/schema';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import { insertSyncEventRows } from './inbox-writer';

export type SyncEventRow = typeof syncEvents.$inferInsert;

export interface EventLog {
  record(row: SyncEventRow): void;
  /** Writes everything buffered now (retrying until `deadlineMs`); used on shutdown and by tests. */
  flush(deadlineMs?: number): Promise<void>;
  readonly pending: number;
  stop(): Promise<void>;
}

export interface EventLogOptions {
  db: Database;
  log: Logger;
  batchSize?: number;
  flushIntervalMs?: number;
  maxBuffered?: number;
  onDropped?: (count: number) => void;
}

export function createEventLog(options: EventLogOptions): EventLog {
  const batchSize = options.batchSize ?? 500;
  const flushIntervalMs = options.flushIntervalMs ?? 100;
  const maxBuffered = options.maxBuffered ?? 100_000;
  let buffer: SyncEventRow[] = [];
  let writing: Promise<void> | undefined;
  let failures = 0;
  let stopped = false;

  const writeOnce = async (): Promise<void> => {
    while (buffer.length > 0) {
      const batch = buffer.slice(0, batchSize);
      await insertSyncEventRows(options.db, batch, { ignoreDuplicates: true });
      buffer = buffer.slice(batch.length);
      failures = 0;
    }
  };

  const kick = () => {
    if (writing || buffer.length === 0) return;
    writing = writeOnce()
      .catch((err: unknown) => {
        failures += 1;
        if (failures === 1 || failures % 50 === 0) {
          options.log.warn({ err: (err as Error).message, buffered: buffer.length }, 'could not write sync_events rows yet; retrying');
        }
      })
      .finally(() => {
        writing = undefined;
      });
  };

  const timer = setInterval(kick, flushIntervalMs);
  timer.unref();

  return {
    get pending() {
      return buffer.length;
    },
    record(row) {
      if (buffer.length >= maxBuffered) {
        options.onDropped?.(1);
        options.log.error({ eventId: row.eventId, workflowId: row.workflowId }, 'sync_events buffer full: audit row dropped (the event itself is in Temporal)');
        return;
      }
      buffer.push(row);
      if (buffer.length >= batchSize && !stopped) kick();
    },
    async flush(deadlineMs = 10_000) {
      const until = Date.now() + deadlineMs;
      while (Date.now() < until) {
        if (writing) await writing;
        if (buffer.length === 0) return;
        kick();
        await writing;
        if (buffer.length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await this.flush(5000);
      if (buffer.length > 0) options.log.error({ lost: buffer.length }, 'sync_events rows not written at shutdown (events are in Temporal)');
    },
  };
}
