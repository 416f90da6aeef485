// Assembles the webhook, the same way for the service and for tests: API key authentication and rate
// limits (./webhook-route.ts) in front of ingestion (src/ingest: grant store, durable acceptance, audit
// trail, inbox relay), whose observations feed this process's metrics. The HTTP layer depends on
// ingestion, never the other way round.
import type { FastifyInstance } from 'fastify';
import { createApiKeyAuthenticator } from '../access/api-keys';
import type { RateLimits } from '../config';
import { createIngestion, type Ingestion, type IngestionOptions, type IngestObserver } from '../ingest/ingestion';
import type { Metrics } from './metrics';
import { webhookRoutes } from './webhook-route';

export interface WebhookPipelineOptions extends Omit<IngestionOptions, 'observer'> {
  metrics: Metrics;
  limits: RateLimits;
}

export interface WebhookPipeline extends Ingestion {
  /** Pass to buildApp({ register }). */
  register: (app: FastifyInstance) => Promise<void>;
}

export function ingestMetrics(metrics: Metrics): IngestObserver {
  return {
    dependencyUp: (dependency, up) => metrics.dependencyUp.set({ dependency }, up ? 1 : 0),
    inboxDepth: (depth) => metrics.inboxDepth.set(depth),
    inboxQueued: () => metrics.inboxDepth.inc(),
    inboxRelayed: (count) => metrics.inboxRelayed.inc(count),
    inboxCommitted: (rows) => metrics.inboxGroupRows.observe(rows),
    eventLogDropped: (count) => metrics.eventLogDropped.inc(count),
  };
}

export function createWebhookPipeline(options: WebhookPipelineOptions): WebhookPipeline {
  const { metrics, limits, ...ingestionOptions } = options;
  const ingestion = createIngestion({ ...ingestionOptions, observer: ingestMetrics(metrics) });
  const register = webhookRoutes({
    authenticator: createApiKeyAuthenticator(options.db),
    ingestor: ingestion.ingestor,
    grants: ingestion.grants,
    metrics,
    limits,
  });
  return { ...ingestion, register };
}
