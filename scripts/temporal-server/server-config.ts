// The Temporal server's configuration for a cluster on Postgres: the template committed under
// deploy/temporal/config (the server renders it, reading the TEMPORAL_* variables below at start), copied
// into the server's root directory, and the environment and command line that start the server with it.
import { cpSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/project-root';
import type { PostgresTarget } from './postgres-target';
import type { SchemaDatabases } from './schema';

export const CONFIG_TEMPLATE_DIR = path.join(PROJECT_ROOT, 'deploy', 'temporal', 'config');
/** The server's `--env`: it loads `<root>/config/<env>.yaml`. */
export const CONFIG_ENV = 'economic-sync';
export const TEMPORAL_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;

/** Copies the configuration into `<root>/config`, replacing an older copy of the same files. */
export function writeServerConfig(root: string): string {
  const target = path.join(root, 'config');
  cpSync(CONFIG_TEMPLATE_DIR, target, { recursive: true });
  return path.join(target, `${CONFIG_ENV}.yaml`);
}

/**
 * The ports of one server, from the frontend's: the offsets of Temporal's own defaults (7233 frontend,
 * 7234 history, 7235 matching, 7239 worker, 7243 frontend HTTP, 6933-6939 membership, 8000 metrics).
 * Temporal keeps each host's membership port in a smallint column (cluster_membership.rpc_port), so a
 * frontend port above 32467 makes the server fail at start.
 */
export function serverPorts(frontend: number): Record<string, number> {
  if (!Number.isInteger(frontend) || frontend - 300 < 1 || frontend - 294 > 32_767 || frontend + 767 > 65_535) {
    throw new Error(`--port ${frontend}: must be from 301 to 32467 (the membership ports, 300 below it, must fit Temporal's smallint)`);
  }
  return {
    TEMPORAL_FRONTEND_PORT: frontend,
    TEMPORAL_HISTORY_PORT: frontend + 1,
    TEMPORAL_MATCHING_PORT: frontend + 2,
    TEMPORAL_WORKER_PORT: frontend + 6,
    TEMPORAL_FRONTEND_HTTP_PORT: frontend + 10,
    TEMPORAL_FRONTEND_MEMBERSHIP_PORT: frontend - 300,
    TEMPORAL_HISTORY_MEMBERSHIP_PORT: frontend - 299,
    TEMPORAL_MATCHING_MEMBERSHIP_PORT: frontend - 298,
    TEMPORAL_WORKER_MEMBERSHIP_PORT: frontend - 294,
  };
}

export interface ServerSettings {
  target: PostgresTarget;
  databases: SchemaDatabases;
  /** Address the services bind to; 0.0.0.0 to serve other hosts (then set broadcastAddress). */
  ip: string;
  broadcastAddress: string;
  frontendPort: number;
  /** Fixed for the life of the databases. */
  historyShards: number;
  logLevel: string;
}

/** The variables deploy/temporal/config/economic-sync.yaml reads. */
export function serverEnvironment(settings: ServerSettings): Record<string, string> {
  const ports = Object.fromEntries(Object.entries(serverPorts(settings.frontendPort)).map(([k, v]) => [k, String(v)]));
  return {
    ...ports,
    TEMPORAL_POSTGRES_HOST: settings.target.host,
    TEMPORAL_POSTGRES_PORT: String(settings.target.port),
    TEMPORAL_POSTGRES_USER: settings.target.user,
    TEMPORAL_POSTGRES_PASSWORD: settings.target.password,
    TEMPORAL_POSTGRES_DB: settings.databases.database,
    TEMPORAL_POSTGRES_VISIBILITY_DB: settings.databases.visibilityDatabase,
    TEMPORAL_BIND_IP: settings.ip,
    TEMPORAL_BROADCAST_ADDRESS: settings.broadcastAddress,
    TEMPORAL_METRICS_ADDRESS: `${settings.ip}:${settings.frontendPort + 767}`,
    TEMPORAL_NUM_HISTORY_SHARDS: String(settings.historyShards),
    TEMPORAL_LOG_LEVEL: settings.logLevel,
  };
}

/** `server --root <root> --config config --env economic-sync --allow-no-auth start [--service ...]`. */
export function serverArgs(root: string, services: readonly string[] = TEMPORAL_SERVICES): string[] {
  return ['--root', root, '--config', 'config', '--env', CONFIG_ENV, '--allow-no-auth', 'start', ...services.flatMap((s) => ['--service', s])];
}
