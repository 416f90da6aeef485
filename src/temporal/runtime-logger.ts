// Routes the Temporal SDK's own logs (worker lifecycle, activity failures) into our structured pino
// logger, once per process.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logger';

const LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed = false;

export function installTemporalLogger(log: Logger, level: LogLevel = 'INFO'): void {
  if (installed) return;
  installed = true;
  const child = log.child({ component: 'temporal' });
  // A runtime may already exist (installed by an embedding process, e.g. tests): keep that one.
  if (Runtime._instance) return;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      child[LEVEL[entry.level]]({ ...entry.meta }, entry.message);
    }),
  });
}
