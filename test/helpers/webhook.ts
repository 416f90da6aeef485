// Builds the webhook server as the service does (buildApp + createWebhookPipeline, the service's own
// logger, timeouts and limits from loadConfig) over a test database and Temporal client, with its JSON
// logs captured for inspection and for the suite's no-secret-in-logs check.
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config, type RateLimits } from '../../src/config';
import type { Database } from '../../src/db/client';
import { buildApp } from '../../src/http/app';
import { createReadiness } from '../../src/http/health';
import { createMetrics, type Metrics } from '../../src/http/metrics';
import { createWebhookPipeline, type WebhookPipeline, type WebhookPipelineOptions } from '../../src/http/webhook-pipeline';
import { createSecretBox } from '../../src/secrets/secret-box';
import { testLogger } from './test-logs';

export interface TestWebhook {
  app: FastifyInstance;
  pipeline: WebhookPipeline;
  metrics: Metrics;
  secretsKey: Buffer;
  logs: string[];
  close(): Promise<void>;
}

/** Generous limits, so that only the tests about limits meet them. */
const TEST_LIMITS: RateLimits = { perKey: 1_000_000, perKeyWindowMs: 60_000, authFailures: 1_000_000, authFailureWindowMs: 60_000 };

export async function startTestWebhook(options: {
  db: Database;
  client: Client;
  taskQueue: string;
  limits?: Partial<RateLimits>;
  /** Variables as the service reads them (TRUST_PROXY, HTTP_* timeouts). */
  env?: Record<string, string>;
  ingest?: WebhookPipelineOptions['ingest'];
  relay?: WebhookPipelineOptions['relay'];
  startRelay?: boolean;
  /** The key grants are encrypted with; share it with a worker that must decrypt them. */
  secretsKey?: Buffer;
}): Promise<TestWebhook> {
  const config: Config = loadConfig(options.env ?? {});
  const { log, lines } = testLogger('webhook');
  const metrics = createMetrics();
  const secretsKey = options.secretsKey ?? randomBytes(32);
  const pipeline = createWebhookPipeline({
    db: options.db,
    client: options.client,
    taskQueue: options.taskQueue,
    secretBox: createSecretBox(secretsKey),
    metrics,
    log,
    limits: { ...TEST_LIMITS, ...options.limits },
    // A test that awaits the workflow of a webhook it just sent needs it started when the 202 comes. On a
    // loaded machine signal-with-start can average over the slow-Temporal threshold, which then sends
    // requests to the inbox and the workflow starts only when the relay passes. That rule has its own
    // tests (test/ingest-units.test.ts), which set it explicitly.
    ingest: { slowSignalMs: Number.POSITIVE_INFINITY, ...options.ingest },
    relay: { idleIntervalMs: 100, minBackoffMs: 100, maxBackoffMs: 500, ...options.relay },
    eventLog: { flushIntervalMs: 20 },
  });
  const app = await buildApp({
    log,
    trustProxy: config.trustProxy,
    timeouts: config.http,
    readiness: createReadiness([], metrics),
    register: pipeline.register,
  });
  if (options.startRelay !== false) pipeline.start();
  return {
    app,
    pipeline,
    metrics,
    secretsKey,
    logs: lines,
    async close() {
      await app.close();
      await pipeline.stop();
    },
  };
}

export { waitFor } from './wait';
