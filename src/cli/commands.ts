// Every CLI command (docs/cli.md) in one table: its name, arguments, options and handler written once.
// The commander program (src/cli.ts) is built from it, and the running service's admin socket
// (./admin-socket.ts) runs the same handlers for commands the CLI forwards to it.
import { accessCreate, accessList, accessRevoke } from './access';
import { CliError, type CommandContext, type CommandResult, type CommandSpec } from './context';
import { reconcileCommand } from './reconcile';
import { retryFailedCommand } from './retry-failed';
import { statusCommand } from './status';

export const COMMANDS: readonly CommandSpec[] = [accessCreate, accessList, accessRevoke, reconcileCommand, retryFailedCommand, statusCommand];

/** Descriptions of the words that group commands (`access create`, `access list`, ...). */
export const COMMAND_GROUPS: Readonly<Record<string, string>> = {
  access: 'API keys that e-conomic webhooks authenticate with',
};

export async function runCommand(ctx: CommandContext, name: string, args: Record<string, unknown>): Promise<CommandResult> {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new CliError(`unknown command "${name}"`);
  return command.run(ctx, args);
}
