// Configuration from the environment (docs/configuration.md), validated as a whole by a schema (zod) at
// start: every mistake is reported at once, in one message that names each variable and never echoes a
// secret, instead of the first one as a stack trace or a warning that lets the process run on a default.
import { isIP } from 'node:net';
import path from 'node:path';
import { msToNumber, type Duration } from '@temporalio/common';
import { z } from 'zod';
import { parseSecretsKey } from './secrets/secret-box';
import { isTokenText } from './util/token-text';

export type Role = 'all' | 'api' | 'worker';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Whose X-Forwarded-For to believe: nobody's, or the listed proxies' (addresses, CIDR ranges, names). */
export type TrustProxy = false | string[];

export interface HttpTimeouts {
  /** The whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** The headers must arrive within this (at most requestTimeoutMs). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A socket without any traffic is closed after this (a backstop above the others). */
  connectionTimeoutMs: number;
}

export interface RateLimits {
  /** Webhook requests one API key may make per window (per API process). */
  perKey: number;
  perKeyWindowMs: number;
  /** Failed authentications one client address may cause per window before it is refused unheard. */
  authFailures: number;
  authFailureWindowMs: number;
}

export interface Config {
  port: number;
  host: string;
  /** Internal port serving /metrics, /healthz and /readyz in every role. */
  metricsPort: number;
  metricsHost: string;
  databaseUrl: string | undefined;
  /** Postgres connections per process: the webhook path (key lookups, inbox, event log, relay) and the activities share them. */
  databasePoolSize: number;
  temporalAddress: string | undefined;
  temporalNamespace: string;
  taskQueue: string;
  /** Reconciliation's own task queue (workflows and activities), polled by every worker besides `taskQueue`. */
  reconcileTaskQueue: string;
  economicRestUrl: string;
  economicProjectsUrl: string;
  economicAppSecretToken: string;
  /** e-conomic calls per agreement per 24-hour window, shared by every worker (docs/economic-api.md, "The call budget"). */
  economicDailyCallBudget: number;
  secretsKey: string | undefined;
  dataDir: string;
  role: Role;
  temporalUiPort: number;
  logLevel: LogLevel;
  trustProxy: TrustProxy;
  http: HttpTimeouts;
  rateLimits: RateLimits;
  /** Reconciliation intervals, as durations Temporal understands (validated). */
  reconcileIncrementalEvery: string;
  reconcileFullEvery: string;
  /** Deletion guard: a full run stops before marking more than this share (0–1) of a tenant's rows deleted. */
  reconcileMaxDeleteShare: number;
  /** Change-feed rows older than this many days are pruned (docs/change-feed.md). */
  changesRetentionDays: number;
  /** Outbound change webhooks: attempts before a change is dead-lettered, and the longest backoff between them. */
  changesDeliveryMaxAttempts: number;
  changesDeliveryMaxBackoff: string;
  /** The embedded single process: ROLE=all without DATABASE_URL or TEMPORAL_ADDRESS. */
  embedded: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];

  constructor(problems: string | string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    // One line, so that any caller printing `message` shows every problem.
    super(list.length === 1 ? `invalid configuration: ${list[0]}` : `invalid configuration (${list.length} problems): ${list.join('; ')}`);
    this.problems = list;
  }

  /** The problems one per line, for a terminal. */
  describe(): string {
    return this.problems.length === 1 ? this.message : [`invalid configuration (${this.problems.length} problems):`, ...this.problems.map((p) => `  - ${p}`)].join('\n');
  }
}

export const DEFAULT_PROJECTS_URL = 'https://apis.e-conomic.com/projectsapi/v1.1.0';
export const DEFAULT_METRICS_PORT = 9464;
const DEMO_APP_SECRET = 'demo';

/** Variables whose value must never appear in a message (they are, or may contain, secrets). */
const SECRET_VARIABLES = new Set(['SECRETS_KEY', 'ECONOMIC_APP_SECRET_TOKEN', 'DATABASE_URL']);

/** Variables replaced by others: naming them is a mistake that would otherwise pass unnoticed. */
const REPLACED: Record<string, string> = {
  RATE_LIMIT_PER_SECOND: 'RATE_LIMIT_PER_KEY and RATE_LIMIT_WINDOW',
  RATE_LIMIT_BURST: 'RATE_LIMIT_PER_KEY and RATE_LIMIT_WINDOW',
};

function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

// Each schema below reads one raw variable (undefined when unset or empty) and yields its typed value,
// or an issue whose message completes the sentence "<NAME> ...".

function integer(fallback: number, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!/^\s*-?\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got ${shown(raw)})` });
        return z.NEVER;
      }
      return value;
    });
}

/** A share from 0 to 1, written as a fraction (0.2) or a percentage (20%). */
function share(fallback: number) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return fallback;
      const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(raw);
      const value = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
      if (!(value >= 0 && value <= 1)) {
        ctx.addIssue({ code: 'custom', message: `must be a share from 0 to 1, such as 0.2 or 20% (got ${shown(raw)})` });
        return z.NEVER;
      }
      return value;
    });
}

/** Parses a duration with a unit ("90s", "15m", "24h", "1 day"); undefined when it is not one. */
export function parseDuration(raw: string): number | undefined {
  // A bare number would be read as milliseconds: "RECONCILE_FULL_EVERY=24" meaning 24 ms is never intended.
  if (!/^\s*\d+(\.\d+)?\s*[a-zA-Z]+\s*$/.test(raw)) return undefined;
  try {
    const ms = msToNumber(raw.trim() as Duration);
    return Number.isFinite(ms) && ms > 0 ? ms : undefined;
  } catch {
    return undefined;
  }
}

function duration(fallback: string, minMs = 1) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const text = raw ?? fallback;
      const ms = parseDuration(text);
      if (ms === undefined || ms < minMs) {
        const floor = minMs > 1 ? ` of at least ${minMs / 1000} s` : '';
        ctx.addIssue({ code: 'custom', message: `must be a duration${floor} with a unit, such as 90s, 15m or 24h (got ${shown(text)})` });
        return z.NEVER;
      }
      return { text: text.trim(), ms };
    });
}

function text(fallback: string) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const value = (raw ?? fallback).trim();
      // An empty fallback: unset means "derived from another variable".
      if (raw === undefined && fallback === '') return value;
      if (value === '' || value.length > 255 || /\s/.test(value)) {
        ctx.addIssue({ code: 'custom', message: `must be a name without spaces, at most 255 characters (got ${shown(raw ?? '')})` });
        return z.NEVER;
      }
      return value;
    });
}

function httpUrl(fallback: string) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const value = raw ?? fallback;
      let url: URL | undefined;
      try {
        url = new URL(value);
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        const got = value.includes('@') ? '' : ` (got ${shown(value)})`;
        ctx.addIssue({ code: 'custom', message: `must be an absolute http(s) URL such as ${fallback}${got}` });
        return z.NEVER;
      }
      return url.toString().replace(/\/$/, '');
    });
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrRange(entry: string): boolean {
  if (PROXY_NAMES.has(entry) || isIP(entry) !== 0) return true;
  const [address, prefix, extra] = entry.split('/');
  if (extra !== undefined || address === undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  const family = isIP(address);
  return family !== 0 && Number(prefix) <= (family === 4 ? 32 : 128);
}

const trustProxy = z
  .string()
  .optional()
  .transform((raw, ctx): TrustProxy => {
    const value = (raw ?? '').trim().toLowerCase();
    if (['', 'false', 'off', 'no', '0', 'none'].includes(value)) return false;
    if (['true', 'on', 'yes', 'all', '*'].includes(value) || /^\d+$/.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must name the proxies in front of the service by address (e.g. 10.0.0.0/8,127.0.0.1 or loopback): trusting every proxy, or a number of hops, lets any client that reaches the port choose its own address through X-Forwarded-For',
      });
      return z.NEVER;
    }
    const entries = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
    const invalid = entries.filter((e) => !isAddressOrRange(e));
    if (entries.length === 0 || invalid.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be off or a comma-separated list of proxy addresses, CIDR ranges, loopback, linklocal or uniquelocal (not understood: ${invalid.map(shown).join(', ') || shown(raw ?? '')})`,
      });
      return z.NEVER;
    }
    return entries;
  });

const envSchema = z.object({
  PORT: integer(3000, 0, 65535),
  HOST: text('0.0.0.0'),
  METRICS_PORT: integer(DEFAULT_METRICS_PORT, 0, 65535),
  METRICS_HOST: z.string().optional(),
  DATABASE_URL: z
    .string()
    .optional()
    .refine((raw) => raw === undefined || /^postgres(ql)?:\/\/./.test(raw), 'must be a postgres:// or postgresql:// connection string'),
  DATABASE_POOL_SIZE: integer(20, 1, 1000),
  TEMPORAL_ADDRESS: z
    .string()
    .optional()
    .refine((raw) => raw === undefined || /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/.test(raw.trim()), {
      message: 'must be host:port of the Temporal frontend, such as temporal:7233 (no scheme)',
    }),
  TEMPORAL_NAMESPACE: text('default'),
  TEMPORAL_TASK_QUEUE: text('economic-sync'),
  RECONCILE_TASK_QUEUE: text(''),
  TEMPORAL_UI_PORT: integer(8233, 0, 65535),
  ECONOMIC_REST_URL: httpUrl('https://restapi.e-conomic.com'),
  ECONOMIC_PROJECTS_URL: httpUrl(DEFAULT_PROJECTS_URL),
  ECONOMIC_APP_SECRET_TOKEN: z
    .string()
    .optional()
    .refine((raw) => raw === undefined || isTokenText(raw), 'must be the app secret token as printable ASCII without spaces or line breaks'),
  // e-conomic's fair use is ~50,000 calls per agreement per day; the default keeps well inside it.
  ECONOMIC_DAILY_CALL_BUDGET: integer(40_000, 1, 10_000_000),
  SECRETS_KEY: z
    .string()
    .optional()
    .refine((raw) => {
      if (raw === undefined) return true;
      try {
        parseSecretsKey(raw);
        return true;
      } catch {
        return false;
      }
    }, 'must be 32 bytes, base64- or hex-encoded (e.g. `openssl rand -base64 32`)'),
  DATA_DIR: z.string().optional(),
  ROLE: z.enum(['all', 'api', 'worker'], { error: (issue) => `must be one of all, api, worker (got ${shown(String(issue.input))})` }).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: (issue) => `must be one of ${LOG_LEVELS.join(', ')} (got ${shown(String(issue.input))})` }).optional(),
  TRUST_PROXY: trustProxy,
  HTTP_REQUEST_TIMEOUT: duration('10s'),
  HTTP_HEADERS_TIMEOUT: duration('5s'),
  HTTP_KEEP_ALIVE_TIMEOUT: duration('72s'),
  HTTP_CONNECTION_TIMEOUT: duration('90s'),
  RATE_LIMIT_PER_KEY: integer(150_000, 1, 100_000_000),
  RATE_LIMIT_WINDOW: duration('15m', 1000),
  AUTH_FAILURE_LIMIT: integer(30, 1, 1_000_000),
  AUTH_FAILURE_WINDOW: duration('1m', 1000),
  RECONCILE_INCREMENTAL_EVERY: duration('15m', 1000),
  RECONCILE_FULL_EVERY: duration('24h', 1000),
  RECONCILE_MAX_DELETE_SHARE: share(0.2),
  CHANGES_RETENTION_DAYS: integer(30, 1, 3650),
  CHANGES_DELIVERY_MAX_ATTEMPTS: integer(25, 1, 10_000),
  CHANGES_DELIVERY_MAX_BACKOFF: duration('10m', 1000),
});

type Env = Record<string, string | undefined>;

/** Unset and empty are the same: `FOO=` in an env file means "use the default". */
function present(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== '') out[name] = value;
  return out;
}

function schemaProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'environment');
    // zod's own messages may quote the input; a secret variable's never is.
    const message = SECRET_VARIABLES.has(name) && issue.code !== 'custom' ? 'is not valid' : issue.message;
    return `${name} ${message}`;
  });
}

/**
 * Validates the environment for any use (service or CLI); throws one ConfigError listing every problem.
 */
export function loadConfig(env: Env = process.env): Config {
  const raw = present(env);
  const problems: string[] = [];
  for (const [name, replacement] of Object.entries(REPLACED)) {
    if (raw[name] !== undefined) problems.push(`${name} is no longer read: use ${replacement} (docs/configuration.md)`);
  }
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError([...problems, ...schemaProblems(parsed.error)]);
  const v = parsed.data;
  // Unset, the headers deadline follows a shorter request deadline down.
  if (raw.HTTP_HEADERS_TIMEOUT === undefined) v.HTTP_HEADERS_TIMEOUT.ms = Math.min(v.HTTP_HEADERS_TIMEOUT.ms, v.HTTP_REQUEST_TIMEOUT.ms);
  if (v.HTTP_HEADERS_TIMEOUT.ms > v.HTTP_REQUEST_TIMEOUT.ms) {
    problems.push(`HTTP_HEADERS_TIMEOUT (${v.HTTP_HEADERS_TIMEOUT.text}) must not exceed HTTP_REQUEST_TIMEOUT (${v.HTTP_REQUEST_TIMEOUT.text})`);
  }
  if (v.METRICS_PORT !== 0 && v.METRICS_PORT === v.PORT) {
    problems.push(`METRICS_PORT must differ from PORT (both ${v.PORT}): the webhook port never serves /metrics`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const role = v.ROLE ?? 'all';
  const databaseUrl = v.DATABASE_URL;
  const temporalAddress = v.TEMPORAL_ADDRESS?.trim();
  return {
    port: v.PORT,
    host: v.HOST,
    metricsPort: v.METRICS_PORT,
    metricsHost: v.METRICS_HOST?.trim() || v.HOST,
    databaseUrl,
    databasePoolSize: v.DATABASE_POOL_SIZE,
    temporalAddress,
    temporalNamespace: v.TEMPORAL_NAMESPACE,
    taskQueue: v.TEMPORAL_TASK_QUEUE,
    reconcileTaskQueue: v.RECONCILE_TASK_QUEUE || `${v.TEMPORAL_TASK_QUEUE}-reconcile`,
    economicRestUrl: v.ECONOMIC_REST_URL,
    economicProjectsUrl: v.ECONOMIC_PROJECTS_URL,
    economicAppSecretToken: v.ECONOMIC_APP_SECRET_TOKEN ?? DEMO_APP_SECRET,
    economicDailyCallBudget: v.ECONOMIC_DAILY_CALL_BUDGET,
    secretsKey: v.SECRETS_KEY,
    dataDir: path.resolve(v.DATA_DIR ?? './.data'),
    role,
    temporalUiPort: v.TEMPORAL_UI_PORT,
    logLevel: v.LOG_LEVEL ?? 'info',
    trustProxy: v.TRUST_PROXY,
    http: {
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT.ms,
      headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT.ms,
      keepAliveTimeoutMs: v.HTTP_KEEP_ALIVE_TIMEOUT.ms,
      connectionTimeoutMs: v.HTTP_CONNECTION_TIMEOUT.ms,
    },
    rateLimits: {
      perKey: v.RATE_LIMIT_PER_KEY,
      perKeyWindowMs: v.RATE_LIMIT_WINDOW.ms,
      authFailures: v.AUTH_FAILURE_LIMIT,
      authFailureWindowMs: v.AUTH_FAILURE_WINDOW.ms,
    },
    reconcileIncrementalEvery: v.RECONCILE_INCREMENTAL_EVERY.text,
    reconcileFullEvery: v.RECONCILE_FULL_EVERY.text,
    reconcileMaxDeleteShare: v.RECONCILE_MAX_DELETE_SHARE,
    changesRetentionDays: v.CHANGES_RETENTION_DAYS,
    changesDeliveryMaxAttempts: v.CHANGES_DELIVERY_MAX_ATTEMPTS,
    changesDeliveryMaxBackoff: v.CHANGES_DELIVERY_MAX_BACKOFF.text,
    embedded: role === 'all' && !databaseUrl && !temporalAddress,
  };
}

/**
 * What running the service needs beyond valid values: a split or external deployment shares one
 * SECRETS_KEY (each process would otherwise invent its own and none could read the others' grants) and
 * names its own e-conomic app secret (`demo` is e-conomic's public demo app, for the embedded default).
 */
export function serviceConfigProblems(env: Env): string[] {
  const raw = present(env);
  const role = raw.ROLE ?? 'all';
  const problems: string[] = [];
  if (role === 'api' || role === 'worker') {
    if (!raw.DATABASE_URL) problems.push(`ROLE=${role} needs DATABASE_URL: the embedded database serves a single process (ROLE=all)`);
    if (!raw.TEMPORAL_ADDRESS) problems.push(`ROLE=${role} needs TEMPORAL_ADDRESS: the local dev server is launched only with ROLE=all`);
  }
  const embedded = role === 'all' && !raw.DATABASE_URL && !raw.TEMPORAL_ADDRESS;
  if (!embedded) {
    const why = role !== 'all' ? `ROLE=${role}` : raw.DATABASE_URL ? 'DATABASE_URL is set' : 'TEMPORAL_ADDRESS is set';
    if (!raw.SECRETS_KEY) {
      problems.push(
        `SECRETS_KEY is required outside the embedded single process (${why}): every process must encrypt and read grant tokens with the same key; generate one with \`openssl rand -base64 32\``,
      );
    }
    if (!raw.ECONOMIC_APP_SECRET_TOKEN || raw.ECONOMIC_APP_SECRET_TOKEN === DEMO_APP_SECRET) {
      problems.push(`ECONOMIC_APP_SECRET_TOKEN is required outside the embedded single process (${why}): the "demo" app secret serves only the embedded default`);
    }
  }
  return problems;
}

/** loadConfig plus what the service needs (serviceConfigProblems), every problem in one ConfigError. */
export function loadServiceConfig(env: Env = process.env): Config {
  const problems = serviceConfigProblems(env);
  try {
    const config = loadConfig(env);
    if (problems.length > 0) throw new ConfigError(problems);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError([...err.problems, ...problems.filter((p) => !err.problems.includes(p))]);
    throw err;
  }
}

/** The app secret is e-conomic's public demo one: fine to try the service, never for real agreements. */
export function usesDemoAppSecret(config: Pick<Config, 'economicAppSecretToken'>): boolean {
  return config.economicAppSecretToken === DEMO_APP_SECRET;
}

/** Throws when a composed Config would not run as a service (for callers that built it with loadConfig). */
export function assertServiceConfig(config: Config): void {
  const problems = serviceConfigProblems({
    ROLE: config.role,
    DATABASE_URL: config.databaseUrl,
    TEMPORAL_ADDRESS: config.temporalAddress,
    SECRETS_KEY: config.secretsKey,
    ECONOMIC_APP_SECRET_TOKEN: config.economicAppSecretToken,
  });
  if (problems.length > 0) throw new ConfigError(problems);
}
