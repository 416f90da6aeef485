// `npm run cli -- <command>` / the `economic-sync` bin (docs/cli.md). Exit 0 on success; otherwise a
// one-line message on stderr and a non-zero exit code.
import { Client, Connection } from '@temporalio/client';
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig, type Config } from './config';
import { openDatabase } from './db/client';
import { migrateDatabase } from './db/migrate';
import { adminSocketPath, forwardCommand } from './cli/admin-socket';
import { COMMAND_GROUPS, COMMANDS, runCommand } from './cli/commands';
import { CliError, type CommandContext, type CommandResult, type CommandSpec } from './cli/context';
import { LOCAL_TEMPORAL_PORT } from './temporal/connect';

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
      progress: (line) => process.stderr.write(`${line}\n`),
    };
    return await runCommand(ctx, command, args);
  } finally {
    await connection?.close();
    await database.close();
  }
}

/** The commander program, one subcommand per entry of the command table; each only parses, then `run`s. */
function buildProgram(run: (command: string, args: Record<string, unknown>) => Promise<void>): Command {
  const program = new Command('economic-sync')
    .description('Operate economic-sync: API keys, reconciliation, retries and status.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const groups = new Map<string, Command>();
  const parentOf = (words: string[]): Command => {
    let parent = program;
    for (let i = 0; i < words.length; i += 1) {
      const path = words.slice(0, i + 1).join(' ');
      const word = words[i] as string;
      const group = groups.get(path) ?? parent.command(word).description(COMMAND_GROUPS[path] ?? '');
      groups.set(path, group);
      parent = group;
    }
    return parent;
  };
  for (const spec of COMMANDS) addCommand(parentOf(spec.name.split(' ').slice(0, -1)), spec, run);
  return program;
}

function addCommand(parent: Command, spec: CommandSpec, run: (command: string, args: Record<string, unknown>) => Promise<void>): void {
  const command = parent.command(spec.name.split(' ').at(-1) ?? spec.name).description(spec.description);
  const positional = spec.arguments ?? [];
  for (const argument of positional) command.argument(`<${argument.name}>`, argument.description);
  for (const option of spec.options ?? []) {
    if (option.required) command.requiredOption(option.flags, option.description);
    else command.option(option.flags, option.description, option.default);
  }
  // commander calls the action with the positional arguments, then the options.
  command.action((...params: unknown[]) => {
    const args: Record<string, unknown> = { ...(params[positional.length] as Record<string, unknown>) };
    positional.forEach((argument, i) => (args[argument.name] = params[i]));
    return run(spec.name, args);
  });
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
