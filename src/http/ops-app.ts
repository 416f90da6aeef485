// The internal operations port (METRICS_PORT, docs/configuration.md), served by every role: Prometheus
// metrics and the same health checks as the webhook port. Metrics carry tenant names and traffic
// figures, so they stay off the public webhook port.
import type { FastifyInstance } from 'fastify';
import { healthRoutes, type Readiness } from './health';
import type { Metrics } from './metrics';
import { createHttpServer, type HttpServerOptions } from './server';

export interface OpsAppOptions extends HttpServerOptions {
  metrics: Metrics;
  readiness: Readiness;
}

export async function buildOpsApp(options: OpsAppOptions): Promise<FastifyInstance> {
  const app = await createHttpServer(options);
  await healthRoutes(options.readiness)(app);
  app.get('/metrics', async (_request, reply) => {
    const body = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(body);
  });
  return app;
}
