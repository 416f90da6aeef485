// Every CLI command (docs/cli.md) in one table: its name, arguments, options and handler written once.
// The commander program (src/cli.ts) is built from it, and the running service's admin socket
// (./admin-socket.ts) runs the same handlers for commands the CLI forwards to it.
import { accessCreate, accessList, accessRevoke } from './access';
import { changes } from './changes';
import { CliError, type CommandContext, type CommandOption, type CommandResult, type CommandSpec } from './context';
import { reconcile } from './reconcile';
import { retryFailed } from './retry-failed';
import { status } from './status';

const ONLY_TENANT: CommandOption = { flags: '--tenant <name>', description: 'only this tenant' };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'access create',
    description: 'create the tenant if new, and an API key for partner eConomic',
    options: [
      { flags: '--tenant <name>', description: 'tenant name (lower-case letters, digits, . _ -)', required: true },
      { flags: '--description <text>', description: 'what the key is for' },
    ],
    run: accessCreate,
  },
  { name: 'access list', description: 'list API keys (prefix only, never a whole key)', options: [ONLY_TENANT], run: accessList },
  { name: 'access revoke', description: 'revoke an API key at once', arguments: [{ name: 'key', description: 'the API key' }], run: accessRevoke },
  {
    name: 'changes',
    description: "print the tenant's change feed after a cursor, oldest first",
    options: [
      { flags: '--tenant <name>', description: 'tenant name', required: true },
      { flags: '--since <cursor>', description: 'print changes after this cursor (0: from the oldest kept)', default: '0' },
      { flags: '--limit <n>', description: 'at most this many rows (1 to 10000)', default: '1000' },
    ],
    run: changes,
  },
  {
    name: 'reconcile',
    description: "run the tenant's reconciliation now and wait for it",
    options: [
      { flags: '--tenant <name>', description: 'tenant name', required: true },
      { flags: '--full', description: 'compare complete sets (detects deletions and archived documents)', default: false },
    ],
    run: reconcile,
  },
  { name: 'retry-failed', description: 'start a new sync for every entity whose last sync failed', options: [ONLY_TENANT], run: retryFailed },
  { name: 'status', description: 'per tenant and entity kind: rows, last sync, failures', options: [ONLY_TENANT], run: status },
];

/** Descriptions of the words that group commands (`access create`, `access list`, ...). */
export const COMMAND_GROUPS: Readonly<Record<string, string>> = {
  access: 'API keys that e-conomic webhooks authenticate with',
};

export async function runCommand(ctx: CommandContext, name: string, args: Record<string, unknown>): Promise<CommandResult> {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new CliError(`unknown command "${name}"`);
  return command.run(ctx, args);
}
