// Structured JSON logs (pino, as Fastify uses). Anything that looks like a secret is redacted by key
// name as a second line of defence; the first is never passing secrets to a logger at all.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'eConomicAPIKey',
  '*.eConomicAPIKey',
  'APIKey',
  '*.APIKey',
  'grantToken',
  '*.grantToken',
  'appSecretToken',
  '*.appSecretToken',
  'headers["x-agreementgranttoken"]',
  'headers["x-appsecrettoken"]',
];

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'economic-sync' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

export type { Logger };
