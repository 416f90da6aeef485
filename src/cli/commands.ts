// Every CLI command (docs/cli.md) in one table: its name, arguments, options and handler written once.
// The commander program (src/cli.ts) is built from it, and the running service's admin socket
// (./admin-socket.ts) runs the same handlers for commands the CLI forwards to it.
import { accessCreate, accessList, accessRevoke, accessUnbind } from './access';
import { changes } from './changes';
import { CliError, type CommandContext, type CommandOption, type CommandResult, type CommandSpec } from './context';
import { reconcile } from './reconcile';
import { retryFailed } from './retry-failed';
import { status } from './status';
import { subscribersAdd, subscribersList, subscribersRemove, subscribersReplay } from './subscribers';

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
    name: 'access unbind',
    description: "release the tenant's e-conomic agreement binding: the next grant that verifies binds it anew",
    options: [{ flags: '--tenant <name>', description: 'tenant name', required: true }],
    run: accessUnbind,
  },
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
      {
        flags: '--allow-mass-delete',
        description: 'with --full: pass the deletion guard (RECONCILE_MAX_DELETE_SHARE) after checking why so many rows are gone',
        default: false,
      },
    ],
    run: reconcile,
  },
  { name: 'retry-failed', description: 'start a new sync for every entity whose last sync failed', options: [ONLY_TENANT], run: retryFailed },
  {
    name: 'subscribers add',
    description: 'add an outbound webhook subscriber of the change feed; prints its signing secret once',
    options: [
      { flags: '--url <url>', description: 'where changes are POSTed (http or https)', required: true },
      { flags: '--tenant <name>', description: "this tenant's changes" },
      { flags: '--all-tenants', description: "every tenant's changes", default: false },
    ],
    run: subscribersAdd,
  },
  { name: 'subscribers list', description: 'list subscribers, their URL and dead letters (never a secret)', run: subscribersList },
  { name: 'subscribers remove', description: 'stop delivering to a subscriber', arguments: [{ name: 'id', description: 'the subscriber id' }], run: subscribersRemove },
  { name: 'subscribers replay', description: "deliver a subscriber's dead letters again", arguments: [{ name: 'id', description: 'the subscriber id' }], run: subscribersReplay },
  { name: 'status', description: 'per tenant: bound agreement, credentials; per entity kind: rows, last sync, failures, access', options: [ONLY_TENANT], run: status },
];

/** Descriptions of the words that group commands (`access create`, `access list`, ...). */
export const COMMAND_GROUPS: Readonly<Record<string, string>> = {
  access: 'API keys that e-conomic webhooks authenticate with, and the agreement binding',
  subscribers: 'outbound webhooks of the change feed',
};

export async function runCommand(ctx: CommandContext, name: string, args: Record<string, unknown>): Promise<CommandResult> {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new CliError(`unknown command "${name}"`);
  return command.run(ctx, args);
}
