// Prometheus metrics of one service process, served on the internal port (./ops-app.ts) in every role.
// A registry per instance (not prom-client's global one), so tests can build many apps in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'economic_sync_' });
  return {
    registry,
    webhookEvents: new Counter({
      name: 'economic_sync_webhook_events_total',
      help: 'Webhook requests by APISource and outcome (signalled, queued, unavailable, unauthorized, auth_rate_limited, rate_limited, invalid, ...).',
      labelNames: ['source', 'outcome'] as const,
      registers: [registry],
    }),
    acceptanceSeconds: new Histogram({
      name: 'economic_sync_webhook_acceptance_seconds',
      help: 'Time from receiving a webhook to answering it, for accepted events.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    inboxDepth: new Gauge({
      name: 'economic_sync_inbox_depth',
      help: 'Events held in the Postgres inbox, waiting for Temporal.',
      registers: [registry],
    }),
    inboxRelayed: new Counter({
      name: 'economic_sync_inbox_relayed_total',
      help: 'Events the inbox relay handed to Temporal after it was unreachable.',
      registers: [registry],
    }),
    inboxGroupRows: new Histogram({
      name: 'economic_sync_inbox_group_commit_rows',
      help: 'Inbox rows written per group commit (docs/webhook.md): large groups mean a burst went to the inbox.',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
      registers: [registry],
    }),
    eventLogDropped: new Counter({
      name: 'economic_sync_event_log_dropped_total',
      help: 'sync_events audit rows of signalled events dropped because Postgres was unreachable too long.',
      registers: [registry],
    }),
    dependencyUp: new Gauge({
      name: 'economic_sync_dependency_up',
      help: 'Whether a dependency answered its last use or readiness probe (1) or not (0).',
      labelNames: ['dependency'] as const,
      registers: [registry],
    }),
    economicCalls: new Counter({
      name: 'economic_sync_economic_api_calls_total',
      help: 'Calls made to the e-conomic APIs by this process, by tenant and endpoint (fair use: ~50,000 per agreement per day).',
      labelNames: ['tenant', 'endpoint'] as const,
      registers: [registry],
    }),
    economicCallSeconds: new Histogram({
      name: 'economic_sync_economic_api_call_seconds',
      help: 'Duration of the calls to the e-conomic APIs by endpoint and outcome (ok, not_found, unauthorized, forbidden, rate_limited, client_error, server_error, timeout, cancelled, network).',
      labelNames: ['endpoint', 'outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    syncLagSeconds: new Histogram({
      name: 'economic_sync_sync_lag_seconds',
      help: 'Time from receiving the oldest event an entity sync covered to that sync committing the entity, by kind and trigger (webhook, reconcile, retry-failed): how far the database trails e-conomic.',
      labelNames: ['kind', 'trigger'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    economicCallsInFlight: new Gauge({
      name: 'economic_sync_economic_api_calls_in_flight',
      help: 'Calls to the e-conomic APIs this process is waiting on right now.',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
