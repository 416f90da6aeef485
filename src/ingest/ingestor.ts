// Durable acceptance of webhook events. An event is durable once Temporal has it (signal-with-start of
// its entity workflow) or, when Temporal is unreachable, slow or saturated, once it is in the Postgres
// inbox (a `sync_events` row with outcome `queued`, handed to Temporal later by ./inbox-relay). Only a
// durable event is acknowledged; when neither store takes it, the caller answers 503. The direct signal
// is used while a slot is free and Temporal answers fast (an idle service answers after one signal);
// once `maxInFlight` signals are in flight, or while signals take longer than `slowSignalMs`, a request
// does not wait but goes to the inbox, whose rows are group-committed (./inbox-writer), so a burst is
// acknowledged at the speed of Postgres (docs/webhook.md, "Durable acceptance").
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import { withTimeout } from '../util/with-timeout';
import { SOURCE_KIND, type ApiSource } from '../shared/entities';
import { entityChange, type EntityChange } from '../shared/sync-signals';
import { signalEntityChange } from '../temporal/signal-entity';
import type { EventLog } from './event-log';
import { createInboxWriter, type InboxWriter } from './inbox-writer';
import { createSemaphore, type Semaphore } from './semaphore';

export interface IncomingEvent {
  tenantId: number;
  tenant: string;
  source: ApiSource;
  number: number;
  oldNumber?: number;
}

export type Acceptance =
  | { outcome: 'signalled' | 'queued'; eventId: string; workflowId: string }
  | { outcome: 'unavailable'; eventId: string; workflowId: string };

/** Shared view of "is Temporal taking signals": set by the ingestor on failure, cleared by the relay. */
export interface TemporalGate {
  readonly down: boolean;
  markDown(): void;
  markUp(): void;
}

export function createTemporalGate(onChange?: (up: boolean) => void): TemporalGate {
  let down = false;
  return {
    get down() {
      return down;
    },
    markDown() {
      if (!down) onChange?.(false);
      down = true;
    },
    markUp() {
      if (down) onChange?.(true);
      down = false;
    },
  };
}

export interface IngestorOptions {
  db: Database;
  client: Client;
  taskQueue: string;
  log: Logger;
  eventLog: EventLog;
  gate: TemporalGate;
  /** Event ids whose failed signal may still have reached Temporal; shared with the inbox relay. */
  uncertain?: Set<string>;
  /** Called after an event went into the inbox (wakes the relay). */
  onQueued?: () => void;
  /** Called when Postgres answered (true) or failed (false) an inbox insert. */
  onPostgres?: (up: boolean) => void;
  /** Signals to Temporal in flight at once. */
  maxInFlight?: number;
  /** Requests waiting for a slot; beyond that they go to the inbox at once. */
  maxWaiting?: number;
  /**
   * A signal-with-start slower than this (moving average) makes the inbox the faster acknowledgement:
   * only a probe per `slowProbeIntervalMs` is then signalled directly, the rest go to the inbox.
   */
  slowSignalMs?: number;
  /** While signals are slow, at most one direct signal (a probe) per this many ms. */
  slowProbeIntervalMs?: number;
  /** How long a request waits for a slot before it goes to the inbox (0: never waits). */
  waitMs?: number;
  /** Deadline of one signal-with-start. */
  signalTimeoutMs?: number;
  /** Deadline of an inbox row, from the request's hand-over until its group commit committed. */
  inboxTimeoutMs?: number;
  /** Most inbox rows written in one group commit. */
  inboxMaxBatch?: number;
  /** Inbox group commits in flight at once. */
  inboxConcurrency?: number;
  /** Called with the size of each committed inbox group. */
  onInboxCommit?: (rows: number) => void;
}

export interface Ingestor {
  accept(event: IncomingEvent): Promise<Acceptance>;
  readonly semaphore: Semaphore;
  readonly inbox: InboxWriter;
}

// The inbox is the last resort: a 503 there tells e-conomic the event is lost, so it gets a generous
// deadline (a burst on a small machine queues inserts for seconds; an insert that lands after we gave up
// would be a 503 for an event we in fact kept). A request does not wait for a signal slot (waitMs 0):
// a group-committed inbox row is durable sooner than a queued signal would be sent.
export const INGEST_DEFAULTS = {
  maxInFlight: 64,
  maxWaiting: 4096,
  waitMs: 0,
  signalTimeoutMs: 3000,
  inboxTimeoutMs: 10_000,
  inboxMaxBatch: 500,
  inboxConcurrency: 4,
  slowSignalMs: 100,
  slowProbeIntervalMs: 1000,
};

/** How long a last-resort signal waits for a slot (the inbox has failed; a 503 would follow). */
const LAST_RESORT_WAIT_MS = 1000;

export function createIngestor(options: IngestorOptions): Ingestor {
  const o = { ...INGEST_DEFAULTS, ...stripUndefined(options) };
  const semaphore = createSemaphore(o.maxInFlight, o.maxWaiting);
  const inbox = createInboxWriter({
    db: options.db,
    maxBatch: o.inboxMaxBatch,
    maxConcurrent: o.inboxConcurrency,
    timeoutMs: o.inboxTimeoutMs,
    onCommit: options.onInboxCommit,
  });

  // Recent signal-with-start latency (moving average). While Temporal answers slower than
  // `slowSignalMs`, an inbox group commit acknowledges sooner: one request per `slowProbeIntervalMs`
  // is signalled directly (a probe that keeps the average current; so few that they stay out of the
  // 99th percentile), everything else goes to the inbox.
  let signalMs = 0;
  let lastProbe = -Infinity;
  // `lastResort`: the inbox just refused the event (Postgres down), so Temporal is tried whatever the
  // gate and the latency say, waiting for a slot, before the request is answered 503: a 503 is only
  // for an event that neither store takes (docs/webhook.md, "Durable acceptance").
  // `skipped`: not tried (gate down, Temporal slow, no free slot); `failed`: tried, and it may or may not have arrived.
  const signal = async (change: EntityChange, lastResort = false): Promise<'signalled' | 'skipped' | 'failed'> => {
    if (!lastResort) {
      if (options.gate.down) return 'skipped'; // keep order behind what the inbox holds; the relay reopens the gate
      if (signalMs > o.slowSignalMs) {
        if (semaphore.inFlight > 0 || performance.now() - lastProbe < o.slowProbeIntervalMs) return 'skipped';
        lastProbe = performance.now();
      }
    }
    const release = await semaphore.acquire(lastResort ? LAST_RESORT_WAIT_MS : o.waitMs);
    if (!release) return 'skipped'; // saturated: the inbox takes it
    try {
      const started = performance.now();
      const deadline = Date.now() + o.signalTimeoutMs;
      await withTimeout(
        options.client.withDeadline(deadline, () => signalEntityChange(options.client, options.taskQueue, change)),
        o.signalTimeoutMs + 250,
        'signal',
      );
      signalMs = 0.8 * signalMs + 0.2 * (performance.now() - started);
      return 'signalled';
    } catch (err) {
      // Unreachable, slow or refusing: the event may or may not have arrived. The inbox re-delivers it
      // with the same eventId, which the workflow ignores if it has seen it.
      options.gate.markDown();
      // Bounded: forgetting costs at most a duplicate signal, which the workflow drops by eventId.
      if (options.uncertain && options.uncertain.size >= 100_000) options.uncertain.clear();
      options.uncertain?.add(change.event.eventId);
      options.log.warn({ eventId: change.event.eventId, err: errorText(err) }, 'Temporal did not take the event; using the inbox');
      return 'failed';
    } finally {
      release();
    }
  };

  return {
    semaphore,
    inbox,
    async accept(event) {
      const kind = SOURCE_KIND[event.source];
      const eventId = randomUUID();
      const receivedAt = new Date();
      const change = entityChange(
        { tenantId: event.tenantId, tenant: event.tenant, kind, number: event.number },
        { eventId, source: event.source, receivedAt, oldNumber: event.oldNumber },
      );
      const workflowId = change.workflowId;
      const row = {
        eventId,
        tenantId: event.tenantId,
        source: event.source,
        kind,
        number: event.number,
        oldNumber: event.oldNumber ?? null,
        receivedAt,
        workflowId,
      };

      const direct = await signal(change);
      if (direct === 'signalled') {
        options.eventLog.record({ ...row, outcome: 'signalled' });
        return { outcome: 'signalled', eventId, workflowId };
      }
      try {
        await inbox.write({ ...row, outcome: 'queued' });
        options.onPostgres?.(true);
        options.onQueued?.();
        return { outcome: 'queued', eventId, workflowId };
      } catch (err) {
        options.onPostgres?.(false);
        // Routed to the inbox for speed, not because Temporal failed it: Temporal may take it still.
        if (direct === 'skipped' && (await signal(change, true)) === 'signalled') {
          options.eventLog.record({ ...row, outcome: 'signalled' });
          return { outcome: 'signalled', eventId, workflowId };
        }
        options.uncertain?.delete(eventId);
        options.log.error({ eventId, workflowId, err: errorText(err) }, 'event could not be made durable: neither Temporal nor the inbox took it');
        return { outcome: 'unavailable', eventId, workflowId };
      }
    },
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** An error's message, first line only (never a payload). */
export function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').slice(0, 300);
}
