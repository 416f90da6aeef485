// Composes webhook ingestion from its parts, the same way for the service and for tests: the grant
// store, durable acceptance (Temporal, else the inbox), the audit trail of signalled events and the inbox
// relay. It knows nothing of HTTP: the webhook route (src/http/webhook-pipeline.ts) drives it, and what
// it observes reaches the process's metrics through the IngestObserver it is given.
import type { Client } from '@temporalio/client';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import type { SecretBox } from '../secrets/secret-box';
import { createEventLog, type EventLog } from './event-log';
import { createGrantRecorder, type GrantRecorder } from './grant-recorder';
import { createInboxRelay, type InboxRelay, type InboxRelayOptions } from './inbox-relay';
import { createIngestor, createTemporalGate, type Ingestor, type IngestorOptions, type TemporalGate } from './ingestor';

/** What ingestion reports as it goes (the service feeds its metrics from these). */
export interface IngestObserver {
  dependencyUp(dependency: 'temporal' | 'postgres', up: boolean): void;
  inboxDepth(depth: number): void;
  inboxQueued(): void;
  /** An inbox group commit of this many rows succeeded. */
  inboxCommitted?(rows: number): void;
  inboxRelayed(count: number): void;
  eventLogDropped(count: number): void;
}

export interface IngestionOptions {
  db: Database;
  client: Client;
  taskQueue: string;
  /** Encrypts the grant tokens webhooks bring (the same box the worker decrypts them with). */
  secretBox: SecretBox;
  log: Logger;
  observer?: IngestObserver;
  ingest?: Pick<IngestorOptions, 'maxInFlight' | 'maxWaiting' | 'waitMs' | 'signalTimeoutMs' | 'inboxTimeoutMs' | 'inboxMaxBatch' | 'inboxConcurrency' | 'slowSignalMs' | 'slowProbeIntervalMs'>;
  relay?: Pick<InboxRelayOptions, 'batchSize' | 'idleIntervalMs' | 'minBackoffMs' | 'maxBackoffMs' | 'signalTimeoutMs' | 'parallelism' | 'coalesce'>;
  eventLog?: { batchSize?: number; flushIntervalMs?: number };
  /** See GrantRecorderOptions.onNewGrant. */
  onNewGrant?: (tenantId: number) => Promise<void>;
}

export interface Ingestion {
  ingestor: Ingestor;
  grants: GrantRecorder;
  relay: InboxRelay;
  eventLog: EventLog;
  gate: TemporalGate;
  /** Starts the inbox relay. */
  start(): void;
  /** Stops the relay and writes the buffered audit rows. Call after HTTP is drained. */
  stop(): Promise<void>;
}

export function createIngestion(options: IngestionOptions): Ingestion {
  const { db, client, taskQueue, observer } = options;
  const log = options.log.child({ component: 'ingest' });
  const gate = createTemporalGate((up) => observer?.dependencyUp('temporal', up));
  // Events whose signal may have landed although it failed: the relay checks history before resending.
  const uncertain = new Set<string>();
  const eventLog = createEventLog({ db, log, ...options.eventLog, onDropped: (n) => observer?.eventLogDropped(n) });
  const relay = createInboxRelay({
    db,
    client,
    taskQueue,
    log,
    gate,
    uncertain,
    ...options.relay,
    onDepth: (depth) => observer?.inboxDepth(depth),
    onRelayed: (n) => observer?.inboxRelayed(n),
  });
  const ingestor = createIngestor({
    db,
    client,
    taskQueue,
    log,
    eventLog,
    gate,
    uncertain,
    ...options.ingest,
    onQueued: () => {
      observer?.inboxQueued();
      relay.notify();
    },
    onPostgres: (up) => observer?.dependencyUp('postgres', up),
    onInboxCommit: (rows) => observer?.inboxCommitted?.(rows),
  });
  const grants = createGrantRecorder({ db, box: options.secretBox, log, onNewGrant: options.onNewGrant });
  return {
    ingestor,
    grants,
    relay,
    eventLog,
    gate,
    start: () => relay.start(),
    async stop() {
      await relay.stop();
      await eventLog.stop();
    },
  };
}
