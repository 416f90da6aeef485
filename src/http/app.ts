// The webhook port: the webhook (registered by the caller, see ./webhook-pipeline.ts) and the health
// checks a load balancer needs, nothing else; metrics live on the internal port (./ops-app.ts). Built by
// a factory so tests drive it with `app.inject` and the service with `listen`.
import type { FastifyInstance } from 'fastify';
import { healthRoutes, type Readiness } from './health';
import { createHttpServer, type HttpServerOptions } from './server';

export interface AppOptions extends HttpServerOptions {
  readiness: Readiness;
  /** The webhook routes. */
  register?: (app: FastifyInstance) => void | Promise<void>;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = await createHttpServer(options);
  await healthRoutes(options.readiness)(app);
  if (options.register) await options.register(app);
  return app;
}
