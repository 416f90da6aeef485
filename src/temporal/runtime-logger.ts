// Routes the Temporal SDK's own logs (worker lifecycle, activity failures) into our structured pino
// logger, once per process, and the SDK core's too (its Rust side: a poll retried while the Temporal
// server is unreachable, a workflow task that ran too long). By default the core writes those to the
// console in its own coloured text format, in the middle of the JSON lines a log pipeline parses, and
// exactly when something is wrong.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logger';

const LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The SDK's level for the service's LOG_LEVEL: the SDK filters before it hands a line over, so with a
 * fixed INFO its debug lines (each activity started and completed) never reached a LOG_LEVEL=debug log.
 */
export function sdkLogLevel(level: string): LogLevel {
  if (level === 'trace') return 'TRACE';
  if (level === 'debug') return 'DEBUG';
  if (level === 'info') return 'INFO';
  if (level === 'warn') return 'WARN';
  return 'ERROR';
}

let installed = false;

export function installTemporalLogger(log: Logger, level: LogLevel = sdkLogLevel(log.level)): void {
  if (installed) return;
  installed = true;
  const child = log.child({ component: 'temporal' });
  // A runtime may already exist (installed by an embedding process, e.g. tests): keep that one.
  if (Runtime._instance) return;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      child[LEVEL[entry.level]]({ ...entry.meta }, entry.message);
    }),
    // The core's warnings and errors, forwarded to the logger above (the SDK's default filter).
    telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } },
  });
}
