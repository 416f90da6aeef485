// What a database error means for whoever retries it: an unreachable or restarting Postgres heals by
// itself (retry until it is back), an integrity violation does not (the data must change first), and any
// other refused statement is a bug or bad data that no retry heals. Activities pick their retry policy
// from this (activities/database-failure.ts); both drivers (postgres.js, PGlite) and Drizzle's wrapping of
// them are read the same way: by the SQLSTATE or socket error code somewhere on the error's cause chain.

/** Node socket errors and postgres.js' own connection errors: the server was not reached or went away. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * SQLSTATEs that a retry heals: connection exceptions (08), insufficient resources such as too many
 * connections (53), a server shutting down or starting up (57P01-57P03), a cancelled statement (57014),
 * serialization failures and deadlocks (40001, 40P01), a lock not available (55P03).
 */
function isTransientSqlState(code: string): boolean {
  return /^(08|53)/.test(code) || /^57P0[1-3]$/.test(code) || ['57014', '40001', '40P01', '55P03'].includes(code);
}

/** The first string `code` on the error or its causes (Drizzle wraps the driver's error as `cause`). */
export function databaseErrorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/** Postgres could not be reached, or is restarting, overloaded or resolving a conflict: retrying heals it. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = databaseErrorCode(err);
  return code !== undefined && (CONNECTION_ERROR_CODES.has(code) || isTransientSqlState(code));
}

/** SQLSTATE class 23 (foreign key, unique, check, not-null): the data, not the database, must change. */
export function isIntegrityViolation(err: unknown): boolean {
  return databaseErrorCode(err)?.startsWith('23') === true;
}

/** Whether the error came from the database at all (a statement refused, or the connection failed). */
export function isDatabaseFailure(err: unknown): boolean {
  const code = databaseErrorCode(err);
  return code !== undefined && (CONNECTION_ERROR_CODES.has(code) || /^[0-9A-Z]{5}$/.test(code));
}

/**
 * The error told without the statement's parameters (drizzle's message quotes every bound value, which
 * for a commit is the whole entity): Postgres' own message, its detail and the code.
 */
export function describeDatabaseError(err: unknown): string {
  // drizzle's query error carries the driver's error as its cause; a connection error comes bare.
  const cause = (err instanceof Error && err.cause instanceof Error ? err.cause : err) as Error & { detail?: unknown };
  const message = err === cause ? String(cause.message ?? cause) : cause.message.split('\n')[0];
  const detail = typeof cause.detail === 'string' ? ` (${cause.detail})` : '';
  const code = databaseErrorCode(err);
  return `database: ${message}${detail}${code ? ` [${code}]` : ''}`;
}
