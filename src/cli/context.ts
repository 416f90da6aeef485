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
}

/** A command failure meant for the user: printed as one line on stderr, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

export interface CommandResult {
  stdout: string;
}

/** A command: a name path like ['access', 'create'] and a handler over parsed options. */
export type CommandHandler = (ctx: CommandContext, args: Record<string, unknown>) => Promise<CommandResult>;
