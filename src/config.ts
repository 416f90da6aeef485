// Configuration from the environment (docs/configuration.md). Parsed once, validated, with clear errors.
import path from 'node:path';

export type Role = 'all' | 'api' | 'worker';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /** Postgres connections per process: the webhook path (key lookups, inbox, event log, relay) and the activities share them. */
  databasePoolSize: number;
  temporalAddress: string | undefined;
  temporalNamespace: string;
  taskQueue: string;
  economicRestUrl: string;
  economicProjectsUrl: string;
  economicAppSecretToken: string;
  secretsKey: string | undefined;
  dataDir: string;
  role: Role;
  temporalUiPort: number;
  logLevel: string;
  /** Webhook rate limit per API key: sustained requests per second, and the burst a key may spend at once. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** Reconciliation intervals. */
  reconcileIncrementalEvery: string;
  reconcileFullEvery: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function urlVar(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  try {
    const url = new URL(raw);
    return url.toString().replace(/\/$/, '');
  } catch {
    throw new ConfigError(`${name} must be an absolute URL, got "${raw}"`);
  }
}

export const DEFAULT_PROJECTS_URL = 'https://apis.e-conomic.com/projectsapi/v1.1.0';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const role = (env.ROLE || 'all') as Role;
  if (!['all', 'api', 'worker'].includes(role)) {
    throw new ConfigError(`ROLE must be one of all, api, worker; got "${env.ROLE}"`);
  }
  return {
    port: intVar(env, 'PORT', 3000, 0, 65535),
    host: env.HOST || '0.0.0.0',
    databaseUrl: env.DATABASE_URL || undefined,
    databasePoolSize: intVar(env, 'DATABASE_POOL_SIZE', 20, 1, 1000),
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.TEMPORAL_TASK_QUEUE || 'economic-sync',
    economicRestUrl: urlVar(env, 'ECONOMIC_REST_URL', 'https://restapi.e-conomic.com'),
    economicProjectsUrl: urlVar(env, 'ECONOMIC_PROJECTS_URL', DEFAULT_PROJECTS_URL),
    economicAppSecretToken: env.ECONOMIC_APP_SECRET_TOKEN || 'demo',
    secretsKey: env.SECRETS_KEY || undefined,
    dataDir: path.resolve(env.DATA_DIR || './.data'),
    role,
    temporalUiPort: intVar(env, 'TEMPORAL_UI_PORT', 8233, 0, 65535),
    logLevel: env.LOG_LEVEL || 'info',
    rateLimitPerSecond: intVar(env, 'RATE_LIMIT_PER_SECOND', 2000, 1),
    rateLimitBurst: intVar(env, 'RATE_LIMIT_BURST', 200_000, 1),
    reconcileIncrementalEvery: env.RECONCILE_INCREMENTAL_EVERY || '15m',
    reconcileFullEvery: env.RECONCILE_FULL_EVERY || '24h',
  };
}
