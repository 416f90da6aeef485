// `changes --tenant <name> --since <cursor>`: prints the tenant's change feed after a cursor
// (docs/change-feed.md), oldest first, and the cursor to continue from.
import { createChangeLog } from '../store/change-log';
import { CliError, type CommandContext, type CommandResult } from './context';
import { formatTable } from './table';

const MAX_LIMIT = 10_000;

function wholeNumber(raw: unknown, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const text = (typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '').trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new CliError(`--${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(text.slice(0, 40))})`);
  }
  return value;
}

export async function changes(ctx: CommandContext, args: Record<string, unknown>): Promise<CommandResult> {
  const tenant = typeof args.tenant === 'string' ? args.tenant : undefined;
  if (!tenant) throw new CliError('give the tenant: --tenant <name>');
  const since = wholeNumber(args.since, 'since', 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = wholeNumber(args.limit, 'limit', 1000, 1, MAX_LIMIT);
  const log = createChangeLog(ctx.db);
  const tenantId = await log.tenantId(tenant);
  if (tenantId === undefined) throw new CliError(`no tenant named "${tenant}"`);
  const rows = await log.since(tenantId, since, limit);
  if (rows.length === 0) return { stdout: `no changes after cursor ${since}` };
  const table = formatTable(
    ['cursor', 'kind', 'number', 'change', 'old number', 'last updated', 'changed at'],
    rows.map((r) => [String(r.cursor), r.kind, String(r.number), r.change, r.oldNumber === null ? '-' : String(r.oldNumber), r.lastUpdated?.toISOString() ?? '-', r.changedAt.toISOString()]),
  );
  const last = rows.at(-1)!.cursor;
  const more = rows.length === limit ? ' (there may be more)' : '';
  return { stdout: `${table}\n\ncontinue with --since ${last}${more}` };
}
