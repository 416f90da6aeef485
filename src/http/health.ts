// Health endpoints, served on the webhook port (for the load balancer) and on the internal metrics port
// (docs/configuration.md, METRICS_PORT). `/healthz`: the process answers. `/readyz`: its dependencies
// (Postgres, Temporal, the worker in ROLE=worker) answer. The webhook port is public, so one readiness
// check serves every caller for a second: a flood of /readyz costs Postgres and Temporal one probe each.
import type { FastifyInstance } from 'fastify';
import { withTimeout } from '../util/with-timeout';
import type { Metrics } from './metrics';

export interface Probe {
  name: string;
  check(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | 'unreachable'>;
}

export interface Readiness {
  check(): Promise<ReadinessReport>;
}

const PROBE_TIMEOUT_MS = 3000;

export function createReadiness(probes: Probe[], metrics?: Metrics, options: { reuseMs?: number } = {}): Readiness {
  const reuseMs = options.reuseMs ?? 1000;
  let last: { at: number; report: Promise<ReadinessReport> } | undefined;
  const run = async (): Promise<ReadinessReport> => {
    const results = await Promise.all(
      probes.map(async (probe) => {
        try {
          await withTimeout(probe.check(), PROBE_TIMEOUT_MS, `${probe.name} probe`);
          metrics?.dependencyUp.set({ dependency: probe.name }, 1);
          return [probe.name, 'ok'] as const;
        } catch {
          metrics?.dependencyUp.set({ dependency: probe.name }, 0);
          return [probe.name, 'unreachable'] as const;
        }
      }),
    );
    return { ready: results.every(([, state]) => state === 'ok'), checks: Object.fromEntries(results) };
  };
  return {
    check() {
      const now = performance.now();
      // Concurrent and recent callers share one run (its promise), finished or still going.
      if (!last || now - last.at > reuseMs) last = { at: now, report: run() };
      return last.report;
    },
  };
}

export function healthRoutes(readiness: Readiness): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const { ready, checks } = await readiness.check();
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
    });
  };
}
