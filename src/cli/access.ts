// `access create|list|revoke`: tenants and their API keys (docs/cli.md).
import { AccessError, createApiKey, listApiKeys, revokeApiKey, validateTenantName } from '../access/api-keys';
import { CliError, type CommandSpec } from './context';
import { formatTable } from './table';

function optionalString(args: Record<string, unknown>, name: string): string | undefined {
  const value = args[name];
  return typeof value === 'string' ? value : undefined;
}

export const accessCreate: CommandSpec = {
  name: 'access create',
  description: 'create the tenant if new, and an API key for partner eConomic',
  options: [
    { flags: '--tenant <name>', description: 'tenant name (lower-case letters, digits, . _ -)', required: true },
    { flags: '--description <text>', description: 'what the key is for' },
  ],
  run: async (ctx, args) => {
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
  },
};

export const accessList: CommandSpec = {
  name: 'access list',
  description: 'list API keys (prefix only, never a whole key)',
  options: [{ flags: '--tenant <name>', description: 'only this tenant' }],
  run: async (ctx, args) => {
    const tenant = optionalString(args, 'tenant');
    const keys = await listApiKeys(ctx.db, tenant);
    if (keys.length === 0) return { stdout: tenant === undefined ? 'no API keys yet' : `no API keys for tenant "${tenant}"` };
    return {
      stdout: formatTable(
        ['prefix', 'tenant', 'description', 'created', 'revoked'],
        keys.map((k) => [k.prefix, k.tenant, k.description ?? '', k.createdAt.toISOString(), k.revokedAt ? k.revokedAt.toISOString() : '-']),
      ),
    };
  },
};

export const accessRevoke: CommandSpec = {
  name: 'access revoke',
  description: 'revoke an API key at once',
  arguments: [{ name: 'key', description: 'the API key' }],
  run: async (ctx, args) => {
    const key = optionalString(args, 'key');
    if (!key) throw new CliError('give the API key to revoke');
    const revoked = await revokeApiKey(ctx.db, key);
    if (!revoked) throw new CliError('no such API key');
    return {
      stdout: revoked.alreadyRevoked
        ? `API key ${revoked.prefix}… of tenant "${revoked.tenant}" was already revoked.`
        : `Revoked API key ${revoked.prefix}… of tenant "${revoked.tenant}". It is refused from the next request on.`,
    };
  },
};
