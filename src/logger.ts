// Structured JSON logs (pino), one logger per process that Fastify shares (loggerInstance), so its own
// request lines get the same serializers and redaction. The first defence is never handing a secret to a
// logger: requests are logged by method, matched route and client address, never by URL (the webhook
// URL carries our API key, and a misconfigured one may carry it in the path). Redaction is the second
// line: every written line has the value of any field named like a secret replaced, at any depth.
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Field names whose value is a secret wherever they appear in a log line, at any depth, in any letter
 * case: our API key, a grant token, the app secret token, the secrets key, the database URL (it may hold
 * a password) and e-conomic's credential headers.
 */
export const SECRET_FIELDS = [
  'APIKey',
  'eConomicAPIKey',
  'grantToken',
  'appSecretToken',
  'economicAppSecretToken',
  'secretsKey',
  'databaseUrl',
  'x-agreementgranttoken',
  'x-appsecrettoken',
  'authorization',
] as const;

const REDACTED = '"[redacted]"';
const SECRET_KEY = new RegExp(`"(?:${SECRET_FIELDS.map((f) => f.replace(/[-]/g, '\\$&')).join('|')})":`, 'gi');

/** Where the JSON value starting at `start` ends (a string, an object or array, or a scalar). */
function endOfValue(line: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < line.length; i += 1) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth += 1;
    else if (c === '}' || c === ']') {
      if (depth === 0) return i;
      depth -= 1;
      if (depth === 0) return i + 1;
    } else if (c === ',' && depth === 0) return i;
  }
  return line.length;
}

/**
 * Replaces the value of every SECRET_FIELDS key in one serialized log line with "[redacted]". It reads the
 * finished line, so it covers child bindings, serialized errors and nested objects alike, for ~3 µs a
 * line: pino's path redaction with the wildcard paths this needs cost ~38 µs a line, which with three lines
 * per webhook was about a fifth of the API process's CPU at 500 connections (docs/webhook.md, "Logs"). A
 * key name inside a string value is escaped (`\"APIKey\":`) and so never matches.
 */
export function redactSecrets(line: string): string {
  SECRET_KEY.lastIndex = 0;
  let match = SECRET_KEY.exec(line);
  if (!match) return line;
  let out = '';
  let copied = 0;
  while (match) {
    const valueStart = match.index + match[0].length;
    const valueEnd = endOfValue(line, valueStart);
    out += line.slice(copied, valueStart) + REDACTED;
    copied = valueEnd;
    SECRET_KEY.lastIndex = valueEnd;
    match = SECRET_KEY.exec(line);
  }
  return out + line.slice(copied);
}

interface LoggedRequest {
  method?: string;
  ip?: string;
  routeOptions?: { url?: string };
}

/** The route pattern that matched ("/", "/healthz"), or "(none)": never the raw path or query. */
function routeOf(request: LoggedRequest): string {
  try {
    return request.routeOptions?.url ?? '(none)';
  } catch {
    // Requests Fastify answers before routing (a malformed URL) have no route context.
    return '(none)';
  }
}

export const logSerializers = {
  req(request: LoggedRequest) {
    return { method: request.method, route: routeOf(request), remoteAddress: request.ip };
  },
  res(reply: { statusCode?: number }) {
    return { statusCode: reply.statusCode };
  },
  err: pino.stdSerializers.err,
};

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  return pino(
    { level, base: { service: 'economic-sync' }, serializers: logSerializers, hooks: { streamWrite: redactSecrets } },
    destination,
  );
}

export type { Logger };
