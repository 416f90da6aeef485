// `access create|list|revoke|unbind`: tenants, their API keys and their agreement binding (docs/cli.md).
import { eq } from 'drizzle-orm';
import { AccessError, createApiKey, listApiKeys, revokeApiKey, validateTenantName } from '../access/api-keys';
import { unbindTenant } from '../access/grants';
import { tenants } from '../db/schema';
import { CliError, type CommandContext, type CommandResult } from './context';
import { formatTable } from './table';

function optionalString(args: Record<string, unknown>, name: string): string | undefined {
  const value = args[name];
  return typeof value === 'string' ? value : undefined;
}

export async function accessCreate(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const tenant = optionalString(args, 'tenant');
  const description = optionalString(args, 'description');
  try {
    validateTenantName(tenant);
    const created = await createApiKey(ctx.db, { tenant: tenant!, description });
    const lines = [
      created.tenantCreated ? `Created tenant "${tenant}".` : `Tenant "${tenant}" exists.`,
      `Created an API key (prefix ${created.prefix}) for partner eConomic. It is shown only this once:`,
      created.key,
    ];
    return { stdout: lines.join('\n') };
  } catch (err) {
    if (err instanceof AccessError) throw new CliError(err.message);
    throw err;
  }
}

export async function accessList(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const tenant = optionalString(args, 'tenant');
  const keys = await listApiKeys(ctx.db, tenant);
  if (keys.length === 0) return { stdout: tenant === undefined ? 'no API keys yet' : `no API keys for tenant "${tenant}"` };
  return {
    stdout: formatTable(
      ['prefix', 'tenant', 'description', 'created', 'revoked'],
      keys.map((k) => [k.prefix, k.tenant, k.description ?? '', k.createdAt.toISOString(), k.revokedAt ? k.revokedAt.toISOString() : '-']),
    ),
  };
}

export async function accessRevoke(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const key = optionalString(args, 'key');
  if (!key) throw new CliError('give the API key to revoke');
  const revoked = await revokeApiKey(ctx.db, key);
  if (!revoked) throw new CliError('no such API key');
  return {
    stdout: revoked.alreadyRevoked
      ? `API key ${revoked.prefix}… of tenant "${revoked.tenant}" was already revoked.`
      : `Revoked API key ${revoked.prefix}… of tenant "${revoked.tenant}". It is refused from the next request on.`,
  };
}

/**
 * Releases the tenant's agreement binding (docs/webhook.md, "The grant and the agreement"): the grant in
 * use, the refused grants and the per-kind 403s go; the next grant a webhook brings that verifies binds anew.
 */
export async function accessUnbind(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const tenant = optionalString(args, 'tenant');
  if (!tenant) throw new CliError('give the tenant: --tenant <name>');
  const [row] = await ctx.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, tenant));
  if (!row) throw new CliError(`no tenant named "${tenant}"`);
  const released = await unbindTenant(ctx.db, row.id);
  if (!released || released.previousAgreement === null) {
    return { stdout: `Tenant "${tenant}" is not bound to an agreement; the next grant that verifies binds it.` };
  }
  return {
    stdout: `Released tenant "${tenant}" from e-conomic agreement ${released.previousAgreement}. Its syncs wait for the next grant a webhook brings; the first that verifies binds the tenant anew.`,
  };
}
