// `npm run cli -- <command>` / the `economic-sync` bin (docs/cli.md). Exit 0 on success; otherwise a
// one-line message on stderr and a non-zero exit code.
import { Client, Connection } from '@temporalio/client';
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig, type Config } from './config';
import { openDatabase } from './db/client';
import { migrateDatabase } from './db/migrate';
import { adminSocketPath, forwardCommand, runCommand } from './cli/admin-socket';
import { CliError, type CommandContext, type CommandResult } from './cli/context';
import { LOCAL_TEMPORAL_PORT } from './temporal/connect';
// Command handlers register themselves on import.
import './cli/commands';

async function execute(config: Config, command: string, args: Record<string, unknown>): Promise<CommandResult> {
  if (!config.databaseUrl) {
    // The embedded database belongs to the running service, if there is one: let it run the command.
    const forwarded = await forwardCommand(adminSocketPath(config.dataDir), command, args);
    if (forwarded) return forwarded;
  }
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, maxConnections: 2 });
  let connection: Connection | undefined;
  try {
    await migrateDatabase(database);
    const ctx: CommandContext = {
      config,
      db: database.db,
      temporal: async () => {
        connection ??= await Connection.connect({ address: config.temporalAddress ?? `localhost:${LOCAL_TEMPORAL_PORT}` });
        return new Client({ connection, namespace: config.temporalNamespace });
      },
    };
    return await runCommand(ctx, command, args);
  } finally {
    await connection?.close();
    await database.close();
  }
}

function buildProgram(run: (command: string, args: Record<string, unknown>) => Promise<void>): Command {
  const program = new Command('economic-sync')
    .description('Operate economic-sync: API keys, reconciliation, retries and status.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const access = program.command('access').description('API keys that e-conomic webhooks authenticate with');
  access
    .command('create')
    .description('create the tenant if new, and an API key for partner eConomic')
    .requiredOption('--tenant <name>', 'tenant name (lower-case letters, digits, . _ -)')
    .option('--description <text>', 'what the key is for')
    .action((opts: Record<string, unknown>) => run('access create', opts));
  access
    .command('list')
    .description('list API keys (prefix only, never a whole key)')
    .option('--tenant <name>', 'only this tenant')
    .action((opts: Record<string, unknown>) => run('access list', opts));
  access
    .command('revoke')
    .description('revoke an API key at once')
    .argument('<key>', 'the API key')
    .action((key: string) => run('access revoke', { key }));

  program
    .command('reconcile')
    .description("run the tenant's reconciliation now and wait for it")
    .requiredOption('--tenant <name>', 'tenant name')
    .option('--full', 'compare complete sets (detects deletions and archived documents)', false)
    .action((opts: Record<string, unknown>) => run('reconcile', opts));
  program
    .command('retry-failed')
    .description('start a new sync for every entity whose last sync failed')
    .option('--tenant <name>', 'only this tenant')
    .action((opts: Record<string, unknown>) => run('retry-failed', opts));
  program
    .command('status')
    .description('per tenant and entity kind: rows, last sync, failures')
    .option('--tenant <name>', 'only this tenant')
    .action((opts: Record<string, unknown>) => run('status', opts));
  return program;
}

async function main(argv: string[]): Promise<number> {
  let output: CommandResult | undefined;
  const config = loadConfig();
  const program = buildProgram(async (command, args) => {
    output = await execute(config, command, args);
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed help or the usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
  if (output) process.stdout.write(output.stdout.endsWith('\n') ? output.stdout : `${output.stdout}\n`);
  return 0;
}

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known = err instanceof CliError || err instanceof ConfigError;
    const message = known ? (err).message : `unexpected error: ${(err as Error).message}`;
    process.stderr.write(`economic-sync: ${message.split('\n')[0]}\n`);
    process.exit(1);
  },
);
