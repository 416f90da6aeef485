// `npm start`: runs economic-sync as configured by the environment (docs/configuration.md) and shuts down
// gracefully on Ctrl-C / SIGTERM. A configuration mistake ends it at once with every problem listed and
// no stack trace.
import { ConfigError, loadServiceConfig } from './config';
import { createLogger } from './logger';
import { startService } from './service';

async function main(): Promise<void> {
  const config = loadServiceConfig();
  const log = createLogger(config.logLevel);
  const service = await startService(config, log);

  const lines = [`economic-sync is running (ROLE=${config.role})`];
  if (service.httpUrl) {
    lines.push(`  webhook:      POST ${service.httpUrl}/?APIKey=<key>&APISource=<source>`);
    lines.push(`  health:       ${service.httpUrl}/healthz  ${service.httpUrl}/readyz`);
  }
  lines.push(`  metrics:      ${service.metricsUrl}/metrics  (internal port; health there too)`);
  lines.push(`  Temporal:     ${service.temporalAddress} (namespace ${config.temporalNamespace})`);
  if (service.temporalUiUrl) lines.push(`  Temporal UI:  ${service.temporalUiUrl}`);
  lines.push(`  database:     ${service.database.kind === 'pglite' ? `embedded PGlite under ${config.dataDir}` : 'DATABASE_URL'}`);
  lines.push('  API keys:     npm run cli -- access create --tenant <name>');
  console.log(lines.join('\n'));

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn('second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down: draining HTTP, letting the worker finish its tasks');
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.describe() : (err as Error).stack ?? String(err);
  console.error(`economic-sync failed to start: ${message}`);
  process.exit(1);
});
