// What a CLI command runs against: the database and (lazily) Temporal. Built by the CLI process itself,
// or by the running service when the CLI forwards a command to it (see ./admin-socket.ts).
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Database } from '../db/client';

export interface CommandContext {
  config: Config;
  db: Database;
  /** Connects on first use: most commands never need Temporal. */
  temporal(): Promise<Client>;
  /** Where a long command prints how it is getting on (the CLI process: stderr); absent: it prints none. */
  progress?: (line: string) => void;
}

/** A command failure meant for the user: printed as one line on stderr, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

export interface CommandResult {
  stdout: string;
}

/** Runs a command over its parsed arguments and options, in the CLI process or inside the running service. */
export type CommandHandler = (ctx: CommandContext, args: Record<string, unknown>) => Promise<CommandResult>;

export interface CommandOption {
  /** As commander reads them, e.g. `--tenant <name>` or `--full`. */
  flags: string;
  description: string;
  required?: boolean;
  default?: boolean | string;
}

/** A command written once: its name, arguments, options and handler (see ./commands.ts). */
export interface CommandSpec {
  /** The words of the command line, e.g. `access create`. */
  name: string;
  description: string;
  /** Positional arguments, each required (`<name>`), handed to the handler under their names. */
  arguments?: Array<{ name: string; description: string }>;
  options?: CommandOption[];
  run: CommandHandler;
}
