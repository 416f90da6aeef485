// `npm run temporal:server -- <command>` (or, after `npm run build`, `node dist/scripts/temporal-server.js
// <command>`): provisions a self-hosted Temporal cluster on Postgres for economic-sync, step by step as
// docs/production.md describes; the production-topology tests run these same commands.
//   binaries   find or build (once, cached) the pinned Temporal server 1.29.1 and temporal-sql-tool
//   schema     create or upgrade Temporal's main and visibility databases on a Postgres
//   config     write the server configuration into a root directory
//   start      run the server in the foreground (SIGTERM/SIGINT stop it), with every service or some
//   namespace  wait for SERVING, create the namespace, register economic-sync's search attributes
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { resolveTemporalCli } from '../src/temporal/cli-binary';
import { resolveServerBinaries } from './temporal-server/binaries';
import { prepareNamespace } from './temporal-server/namespace';
import { parsePostgresUrl } from './temporal-server/postgres-target';
import { setupSchema } from './temporal-server/schema';
import { CONFIG_ENV, serverArgs, serverEnvironment, TEMPORAL_SERVICES, writeServerConfig } from './temporal-server/server-config';

const report = (line: string) => console.log(line);

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a whole number from 1 to 65535');
  return n;
}

function service(value: string, previous: string[] = []): string[] {
  if (!(TEMPORAL_SERVICES as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${TEMPORAL_SERVICES.join(', ')}`);
  return [...previous, value];
}

const program = new Command('temporal-server')
  .description("Provision a Temporal cluster on Postgres for economic-sync (docs/production.md). Passwords: PGPASSWORD, not the URL.")
  .showHelpAfterError();

program
  .command('binaries')
  .description('find or build (once, cached) the Temporal server and temporal-sql-tool 1.29.1, and print their paths')
  .action(async () => {
    const found = await resolveServerBinaries();
    report(`temporal-server:   ${found.server} (${found.source})\ntemporal-sql-tool: ${found.sqlTool}`);
  });

program
  .command('schema')
  .description("create or upgrade Temporal's schema (main and visibility databases) on a Postgres")
  .requiredOption('--postgres <url>', 'the Postgres server, e.g. postgres://temporal@db.internal:5432')
  .option('--database <name>', 'main (history) database', 'temporal')
  .option('--visibility-database <name>', 'visibility database', 'temporal_visibility')
  .action(async (options: { postgres: string; database: string; visibilityDatabase: string }) => {
    const { sqlTool } = await resolveServerBinaries();
    await setupSchema(sqlTool, parsePostgresUrl(options.postgres), { database: options.database, visibilityDatabase: options.visibilityDatabase }, report);
  });

program
  .command('config')
  .description('write the server configuration (deploy/temporal/config) into <root>/config')
  .requiredOption('--root <dir>', "the server's root directory, e.g. /etc/temporal")
  .action((options: { root: string }) => {
    report(`wrote ${writeServerConfig(path.resolve(options.root))}`);
  });

program
  .command('start')
  .description('run the Temporal server in the foreground until SIGTERM or SIGINT')
  .requiredOption('--root <dir>', 'the root directory `config` wrote into')
  .requiredOption('--postgres <url>', 'the Postgres server `schema` set up')
  .option('--database <name>', 'main (history) database', 'temporal')
  .option('--visibility-database <name>', 'visibility database', 'temporal_visibility')
  .option('--ip <address>', 'address the services bind to (0.0.0.0: every interface)', '127.0.0.1')
  .option('--broadcast-address <address>', 'address the services reach each other on (defaults to --ip, or 127.0.0.1 with 0.0.0.0)')
  .option('--port <port>', 'frontend gRPC port; the other services use the next ports (docs/production.md)', positiveInt, 7233)
  .option('--history-shards <n>', 'history shards: fixed at the first start, never changed afterwards', positiveInt, 512)
  .option('--service <name>', `run only this service (repeatable): ${TEMPORAL_SERVICES.join(', ')}`, service)
  .option('--log-level <level>', 'server log level', 'warn')
  .action(async (options: { root: string; postgres: string; database: string; visibilityDatabase: string; ip: string; broadcastAddress?: string; port: number; historyShards: number; service?: string[]; logLevel: string }) => {
    const root = path.resolve(options.root);
    if (!existsSync(path.join(root, 'config', `${CONFIG_ENV}.yaml`))) throw new Error(`no ${path.join(root, 'config', `${CONFIG_ENV}.yaml`)}: run \`config --root ${options.root}\` first`);
    const env = serverEnvironment({
      target: parsePostgresUrl(options.postgres),
      databases: { database: options.database, visibilityDatabase: options.visibilityDatabase },
      ip: options.ip,
      broadcastAddress: options.broadcastAddress ?? (options.ip === '0.0.0.0' ? '127.0.0.1' : options.ip),
      frontendPort: options.port,
      historyShards: options.historyShards,
      logLevel: options.logLevel,
    });
    const { server } = await resolveServerBinaries();
    // The server resolves the dynamic config file relative to its working directory: the root.
    const child = spawn(server, serverArgs(root, options.service), { cwd: root, env: { ...process.env, ...env }, stdio: 'inherit' });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => child.kill(signal));
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
    child.on('error', (err) => {
      console.error(`could not start ${server}: ${err.message}`);
      process.exit(1);
    });
  });

program
  .command('namespace')
  .description("wait until the cluster is SERVING, create the namespace, register economic-sync's search attributes")
  .option('--address <host:port>', 'the frontend', '127.0.0.1:7233')
  .option('--namespace <name>', 'namespace (TEMPORAL_NAMESPACE of the service)', 'default')
  .option('--retention <duration>', 'how long closed workflows are kept', '72h')
  .option('--timeout <seconds>', 'give up after', positiveInt, 120)
  .action(async (options: { address: string; namespace: string; retention: string; timeout: number }) => {
    const cli = await resolveTemporalCli();
    if (!cli) throw new Error('no Temporal CLI: install Go, or set TEMPORAL_CLI_PATH');
    await prepareNamespace({ cli: cli.path, address: options.address, namespace: options.namespace, retention: options.retention, timeoutMs: options.timeout * 1000 }, report);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`temporal-server: ${(err as Error).message}`);
  process.exit(1);
});
