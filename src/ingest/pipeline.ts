// Composes webhook ingestion from its parts, the same way for the service and for tests: API key
// authentication, rate limit, grant store, durable acceptance (Temporal, else the inbox), the audit
// trail of signalled events and the inbox relay.
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { createApiKeyAuthenticator } from '../access/api-keys';
import type { Database } from '../db/client';
import type { Metrics } from '../http/metrics';
import { createRateLimiter } from '../http/rate-limit';
import { webhookRoutes } from '../http/webhook-route';
import type { Logger } from '../logger';
import type { SecretBox } from '../secrets/secret-box';
import { createEventLog, type EventLog } from './event-log';
import { createGrantRecorder } from './grant-recorder';
import { createInboxRelay, type InboxRelay, type InboxRelayOptions } from './inbox-relay';
import { createIngestor, createTemporalGate, type Ingestor, type IngestorOptions, type TemporalGate } from './ingestor';

export interface WebhookPipelineOptions {
  db: Database;
  client: Client;
  taskQueue: string;
  /** Encrypts the grant tokens webhooks bring (the same box the worker decrypts them with). */
  secretBox: SecretBox;
  metrics: Metrics;
  log: Logger;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  ingest?: Pick<IngestorOptions, 'maxInFlight' | 'maxWaiting' | 'waitMs' | 'signalTimeoutMs' | 'inboxTimeoutMs'>;
  relay?: Pick<InboxRelayOptions, 'batchSize' | 'idleIntervalMs' | 'minBackoffMs' | 'maxBackoffMs' | 'signalTimeoutMs' | 'parallelism'>;
  eventLog?: { batchSize?: number; flushIntervalMs?: number };
  /** See GrantRecorderOptions.onNewGrant. */
  onNewGrant?: (tenantId: number) => Promise<void>;
}

export interface WebhookPipeline {
  /** Pass to buildApp({ register }). */
  register: (app: FastifyInstance) => Promise<void>;
  ingestor: Ingestor;
  relay: InboxRelay;
  eventLog: EventLog;
  gate: TemporalGate;
  /** Starts the inbox relay. */
  start(): void;
  /** Stops the relay and writes the buffered audit rows. Call after HTTP is drained. */
  stop(): Promise<void>;
}

export function createWebhookPipeline(options: WebhookPipelineOptions): WebhookPipeline {
  const { db, client, taskQueue, metrics } = options;
  const log = options.log.child({ component: 'ingest' });
  const temporalUp = (up: boolean) => metrics.dependencyUp.set({ dependency: 'temporal' }, up ? 1 : 0);
  const gate = createTemporalGate(temporalUp);
  // Events whose signal may have landed although it failed: the relay checks history before resending.
  const uncertain = new Set<string>();
  const eventLog = createEventLog({ db, log, ...options.eventLog, onDropped: (n) => metrics.eventLogDropped.inc(n) });
  const relay = createInboxRelay({
    db,
    client,
    taskQueue,
    log,
    gate,
    uncertain,
    ...options.relay,
    onDepth: (depth) => metrics.inboxDepth.set(depth),
    onRelayed: (n) => metrics.inboxRelayed.inc(n),
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
      metrics.inboxDepth.inc();
      relay.notify();
    },
    onPostgres: (up) => metrics.dependencyUp.set({ dependency: 'postgres' }, up ? 1 : 0),
  });
  const register = webhookRoutes({
    authenticator: createApiKeyAuthenticator(db),
    rateLimiter: createRateLimiter({ ratePerSecond: options.rateLimitPerSecond, burst: options.rateLimitBurst }),
    ingestor,
    grants: createGrantRecorder({ db, box: options.secretBox, log, onNewGrant: options.onNewGrant }),
    metrics,
  });
  return {
    register,
    ingestor,
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
