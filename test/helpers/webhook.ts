// Builds the webhook server as the service does (buildApp + createWebhookPipeline) over a test
// database and Temporal client, with its JSON logs captured for inspection.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp, requestSerializers } from '../../src/http/app';
import { createMetrics, type Metrics } from '../../src/http/metrics';
import { createWebhookPipeline, type WebhookPipeline, type WebhookPipelineOptions } from '../../src/ingest/pipeline';
import { REDACT_PATHS } from '../../src/logger';
import { createSecretBox } from '../../src/secrets/secret-box';
import type { Database } from '../../src/db/client';

export interface TestWebhook {
  app: FastifyInstance;
  pipeline: WebhookPipeline;
  metrics: Metrics;
  secretsKey: Buffer;
  logs: string[];
  close(): Promise<void>;
}

export async function startTestWebhook(options: {
  db: Database;
  client: Client;
  taskQueue: string;
  rateLimitPerSecond?: number;
  rateLimitBurst?: number;
  ingest?: WebhookPipelineOptions['ingest'];
  relay?: WebhookPipelineOptions['relay'];
  startRelay?: boolean;
  /** The key grants are encrypted with; share it with a worker that must decrypt them. */
  secretsKey?: Buffer;
}): Promise<TestWebhook> {
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const log = pino({ level: 'debug', base: { service: 'economic-sync' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream);
  const metrics = createMetrics();
  const secretsKey = options.secretsKey ?? randomBytes(32);
  const pipeline = createWebhookPipeline({
    db: options.db,
    client: options.client,
    taskQueue: options.taskQueue,
    secretBox: createSecretBox(secretsKey),
    metrics,
    log,
    rateLimitPerSecond: options.rateLimitPerSecond ?? 100_000,
    rateLimitBurst: options.rateLimitBurst ?? 1_000_000,
    ingest: options.ingest,
    relay: { idleIntervalMs: 100, minBackoffMs: 100, maxBackoffMs: 500, ...options.relay },
    eventLog: { flushIntervalMs: 20 },
  });
  const app = await buildApp({
    metrics,
    probes: [],
    logger: { level: 'debug', stream, serializers: requestSerializers, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    register: pipeline.register,
  });
  if (options.startRelay !== false) pipeline.start();
  return {
    app,
    pipeline,
    metrics,
    secretsKey,
    logs,
    async close() {
      await app.close();
      await pipeline.stop();
    },
  };
}

export { waitFor } from './wait';
