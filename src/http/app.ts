// The HTTP face of economic-sync, built by a factory so tests drive it with `app.inject` and the
// service with `listen`. Routes: health and metrics here; the webhook in ./webhook-route.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { withTimeout } from '../util/with-timeout';
import type { Metrics } from './metrics';

export interface Probe {
  name: string;
  check(): Promise<void>;
}

export interface AppOptions {
  metrics: Metrics;
  /** Dependencies `GET /readyz` checks (Temporal, Postgres). */
  probes: Probe[];
  logger?: FastifyServerOptions['logger'];
  /** Extra routes (the webhook), registered by the caller. */
  register?: (app: FastifyInstance) => void | Promise<void>;
}

/**
 * Request logging never includes the query string: the webhook URL carries our API key in it.
 */
export const requestSerializers = {
  req(request: { method: string; url: string; id: string }) {
    return { method: request.method, path: request.url.split('?')[0], reqId: request.id };
  },
};

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 16 * 1024,
    // Behind a proxy in production; request ids for correlating logs.
    trustProxy: true,
    return503OnClosing: true,
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      options.probes.map(async (probe) => {
        try {
          await withTimeout(probe.check(), 3000, `${probe.name} probe`);
          options.metrics.dependencyUp.set({ dependency: probe.name }, 1);
          return [probe.name, 'ok'] as const;
        } catch {
          options.metrics.dependencyUp.set({ dependency: probe.name }, 0);
          return [probe.name, 'unreachable'] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const ready = results.every(([, state]) => state === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(body);
  });

  if (options.register) await options.register(app);
  return app;
}
