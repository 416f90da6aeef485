// A server under test, in its own process (so the load generator does not share its event loop, and
// so it can be profiled with --cpu-prof or killed). BENCH_SERVER selects what it runs:
//   service  the real composition (src/service.ts startService), ROLE from the environment
//   bare     a bare Fastify route doing nothing: the HTTP ceiling of this machine
//   inline   a webhook route that fetches from e-conomic and writes Postgres inside the request, no
//            Temporal (readEntity and the entity store, the same code the activities run): the e2e baseline
// It reports its port to the parent over IPC and stops on SIGTERM.
import Fastify, { type FastifyInstance } from 'fastify';
import { createApiKeyAuthenticator } from '../src/access/api-keys';
import { loadServiceConfig } from '../src/config';
import { openDatabase } from '../src/db/client';
import { createEconomicClient } from '../src/economic';
import { createLogger } from '../src/logger';
import { startService } from '../src/service';
import { LISTEN_BACKLOG } from '../src/http/server';
import { SOURCE_KIND, isApiSource } from '../src/shared/entities';
import { createEntityStore } from '../src/store/entity-store';
import { dependenciesOf, type DependencyRef, type EntityRecord } from '../src/sync/entity-record';
import { readEntity } from '../activities/fetch-entity';

async function main(): Promise<void> {
  const mode = process.env.BENCH_SERVER ?? 'service';
  let app: FastifyInstance;
  let stop: () => Promise<void>;
  let metricsPort: number | undefined;
  if (mode === 'service') {
    const config = loadServiceConfig();
    const service = await startService(config, createLogger(config.logLevel));
    metricsPort = Number(new URL(service.metricsUrl).port);
    if (!service.app) {
      // ROLE=worker: no webhook port.
      process.send?.({ ready: true, port: 0, metricsPort });
      process.on('SIGTERM', () => void service.stop().then(() => process.exit(0)));
      return;
    }
    app = service.app;
    stop = () => service.stop();
  } else if (mode === 'bare') {
    app = Fastify({ logger: false });
    app.post('/', async (_request, reply) => reply.code(202).send({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG });
    stop = () => app.close();
  } else if (mode === 'inline') {
    const inline = await inlineServer();
    app = inline.app;
    stop = () => inline.stop();
  } else {
    throw new Error(`unknown BENCH_SERVER ${mode}`);
  }
  const address = app.server.address();
  process.send?.({ ready: true, port: typeof address === 'object' && address ? address.port : 0, metricsPort });
  process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
}

/** The e2e baseline: fetch + dependencies + commit in the request, with the activities' own functions. */
async function inlineServer(): Promise<{ app: FastifyInstance; stop(): Promise<void> }> {
  const database = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: '/nonexistent', maxConnections: 10 });
  const store = createEntityStore(database.db);
  const authenticator = createApiKeyAuthenticator(database.db);
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
  app.post('/', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const auth = await authenticator.authenticate(query.APIKey);
    if (!auth.ok) return reply.code(401).send({ error: 'unauthorized' });
    if (!isApiSource(query.APISource)) return reply.code(400).send({ error: 'invalid_source' });
    const body = request.body as { eConomicAPIKey?: string; number?: string | number };
    const number = Number(body.number);
    const kind = SOURCE_KIND[query.APISource];
    const tenantId = auth.key.tenantId;
    const client = createEconomicClient({
      restUrl: process.env.ECONOMIC_REST_URL ?? '',
      projectsUrl: process.env.ECONOMIC_PROJECTS_URL ?? '',
      appSecretToken: process.env.ECONOMIC_APP_SECRET_TOKEN ?? '',
      grantToken: String(body.eConomicAPIKey),
    });
    const fetchedAt = new Date().toISOString();
    const record = await readEntity(client, store, tenantId, kind, number, fetchedAt);
    if (!record) return reply.code(404).send({ error: 'not_found' });
    // Same freshness rule as resolveDependencies: a dependency synced already is not fetched again.
    const dependencies: EntityRecord[] = [];
    const ensure = async (dep: DependencyRef, depth: number): Promise<void> => {
      if (await store.find(tenantId, dep.kind, dep.number)) return;
      const depRecord = await readEntity(client, store, tenantId, dep.kind, dep.number, new Date().toISOString());
      if (!depRecord) return;
      if (depth < 2) for (const inner of dependenciesOf(depRecord)) await ensure(inner, depth + 1);
      dependencies.push(depRecord);
    };
    for (const dep of dependenciesOf(record)) await ensure(dep, 0);
    // One transaction, dependencies first, as the syncEntity activity commits.
    await store.commit(tenantId, [...dependencies, record]);
    return reply.code(200).send({ ok: true });
  });
  await app.listen({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG });
  return {
    app,
    async stop() {
      await app.close();
      await database.close();
    },
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
