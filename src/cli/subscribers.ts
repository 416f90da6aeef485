// `subscribers add|list|remove|replay`: outbound webhook subscribers of the change feed
// (docs/change-feed.md). `add` prints the signing secret once (it is stored encrypted, never shown
// again) and starts the subscriber's delivery workflow; `replay` delivers its dead letters again.
import { createSecretBox, loadSecretsKey } from '../secrets/secret-box';
import { createChangeLog } from '../store/change-log';
import { createSubscriberStore } from '../store/change-subscribers';
import { startChangeDelivery } from '../temporal/change-delivery';
import { changeDeliveryWorkflowId } from '../shared/change-delivery';
import { generateSigningSecret } from '../util/webhook-signature';
import { CliError, type CommandContext, type CommandResult } from './context';
import { formatTable } from './table';

/** A subscriber URL: absolute http(s), a host, no credentials in it (they would be printed by `list`). */
export function validateSubscriberUrl(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new CliError('give the subscriber URL: --url https://...');
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new CliError('--url must be an absolute http(s) URL, such as https://app.example.com/economic-changes');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CliError(`--url must use http or https (got ${url.protocol.replace(':', '')})`);
  if (url.username || url.password) throw new CliError('--url must not carry a user name or password: the signature authenticates the request');
  if (url.hash) throw new CliError('--url must not have a #fragment');
  if (url.toString().length > 2000) throw new CliError('--url is longer than 2000 characters');
  return url.toString();
}

function subscriberId(raw: unknown): number {
  const text = typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim() : '';
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1) throw new CliError('give the subscriber id (a whole number, as `subscribers list` shows)');
  return id;
}

export async function subscribersAdd(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const url = validateSubscriberUrl(args.url);
  const tenant = typeof args.tenant === 'string' ? args.tenant : undefined;
  if (tenant === undefined && args.allTenants !== true) throw new CliError('say whose changes: --tenant <name>, or --all-tenants');
  if (tenant !== undefined && args.allTenants === true) throw new CliError('--tenant and --all-tenants exclude each other');
  let tenantId: number | null = null;
  if (tenant !== undefined) {
    const id = await createChangeLog(ctx.db).tenantId(tenant);
    if (id === undefined) throw new CliError(`no tenant named "${tenant}"`);
    tenantId = id;
  }
  const secret = generateSigningSecret();
  const box = createSecretBox(loadSecretsKey(ctx.config.secretsKey, ctx.config.dataDir));
  const id = await createSubscriberStore(ctx.db).add({ tenantId, url, secretEncrypted: box.encrypt(secret) });
  let started = `Its delivery workflow ${changeDeliveryWorkflowId(id)} is running.`;
  try {
    await startChangeDelivery(await ctx.temporal(), ctx.config.taskQueue, id, ctx.config);
  } catch {
    started = `Temporal was not reachable: its delivery workflow ${changeDeliveryWorkflowId(id)} starts with the next worker start.`;
  }
  return {
    stdout: [
      `Added subscriber ${id} for ${tenant === undefined ? 'every tenant' : `tenant "${tenant}"`}: ${url}`,
      started,
      'Its signing secret is shown only this once:',
      secret,
    ].join('\n'),
  };
}

export async function subscribersList(ctx: CommandContext): Promise<CommandResult> {
  const rows = await createSubscriberStore(ctx.db).list();
  if (rows.length === 0) return { stdout: 'no subscribers yet' };
  return {
    stdout: formatTable(
      ['id', 'tenant', 'url', 'created', 'removed', 'dead letters'],
      rows.map((r) => [String(r.id), r.tenant ?? '(all)', r.url, r.createdAt.toISOString(), r.removedAt ? r.removedAt.toISOString() : '-', String(r.deadLetters)]),
    ),
  };
}

export async function subscribersRemove(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const id = subscriberId(args.id);
  if (!(await createSubscriberStore(ctx.db).remove(id))) throw new CliError(`no subscriber ${id} (or it was already removed)`);
  return { stdout: `Removed subscriber ${id}: nothing more is delivered to it; its delivery workflow ends.` };
}

export async function subscribersReplay(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const id = subscriberId(args.id);
  const store = createSubscriberStore(ctx.db);
  const subscriber = await store.get(id);
  if (!subscriber || subscriber.removedAt) throw new CliError(`no subscriber ${id} (or it was removed)`);
  const count = await store.requestReplay(id);
  if (count === 0) return { stdout: `Subscriber ${id} has no dead letters.` };
  return { stdout: `Replaying ${count} dead letter${count === 1 ? '' : 's'} of subscriber ${id}, oldest first, before its next changes.` };
}
