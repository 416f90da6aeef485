// postgres.js 3.4.9 can throw from a setImmediate after a connection closed under it (a Postgres
// restart, a network cut): `TypeError: Cannot read properties of null (reading 'write')` in
// `nextWrite` (porsager/postgres#1154, #1208; the fix, PR #1168, is not released). By then the
// driver has already rejected the affected query with CONNECTION_CLOSED, so the write it drops is
// moot, but as an uncaught exception it would take the whole process down, losing in-flight webhooks.
// This guard swallows exactly that error and nothing else; every other uncaught exception still ends
// the process, as Node would.
import type { Logger } from '../logger';

export function isPostgresJsNullSocketWrite(err: unknown): boolean {
  return (
    err instanceof TypeError &&
    /reading 'write'/.test(err.message) &&
    /\bnextWrite\b/.test(err.stack ?? '') &&
    /[\\/]postgres[\\/](cjs[\\/])?src[\\/]connection\.js/.test(err.stack ?? '')
  );
}

let installed = false;

export function guardPostgresJsNullSocketWrite(log?: Pick<Logger, 'warn'>): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (err, origin) => {
    if (isPostgresJsNullSocketWrite(err)) {
      log?.warn({ err: err.message }, 'postgres.js wrote to a closed connection (known driver bug); the query was already failed and is retried');
      return;
    }
    // Not ours to swallow: report and exit, as Node does without a handler.
    process.stderr.write(`${origin}: ${err.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
