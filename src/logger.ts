// Structured JSON logs (pino), one logger per process that Fastify shares (loggerInstance), so its own
// request lines get the same serializers and redaction. The first defence is never handing a secret to a
// logger: requests are logged by method, matched route and client address, never by URL (the webhook
// URL carries our API key, and a misconfigured one may carry it in the path). The redaction paths are the
// second line, for objects that hold a secret under a known name.
import pino, { type DestinationStream, type Logger } from 'pino';

export const REDACT_PATHS = [
  'APIKey',
  '*.APIKey',
  '*.query.APIKey',
  'eConomicAPIKey',
  '*.eConomicAPIKey',
  '*.body.eConomicAPIKey',
  'grantToken',
  '*.grantToken',
  'appSecretToken',
  '*.appSecretToken',
  'economicAppSecretToken',
  '*.economicAppSecretToken',
  'secretsKey',
  '*.secretsKey',
  'databaseUrl',
  '*.databaseUrl',
  'headers["x-agreementgranttoken"]',
  'headers["x-appsecrettoken"]',
  'headers.authorization',
  '*.headers["x-agreementgranttoken"]',
  '*.headers["x-appsecrettoken"]',
  '*.headers.authorization',
];

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
    { level, base: { service: 'economic-sync' }, serializers: logSerializers, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination,
  );
}

export type { Logger };
