// The test side of the suite's no-secret-in-logs check: every logger a test builds writes its lines to a
// file under the test run's directory (as well as to memory, for the test's own assertions), and every
// secret a test makes (API keys, grant tokens, app secrets) is registered there. The suite's last file,
// test/zz-no-secrets-in-logs.test.ts, then greps the whole run for every registered secret.
// scripts/run-tests.ts names the run directory; a test file run on its own writes to .test-logs/adhoc.
import { appendFileSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger';

export const RUN_DIR_ENV = 'ECONOMIC_SYNC_TEST_LOG_DIR';

export type SecretKind = 'api-key' | 'grant-token' | 'app-secret' | 'secrets-key' | 'signing-secret';

export interface RegisteredSecret {
  kind: SecretKind;
  value: string;
}

export function testRunDir(): string {
  return process.env[RUN_DIR_ENV] ?? path.join(__dirname, '..', '..', '.test-logs', 'adhoc');
}

function fileIn(sub: string, file: string): string {
  const dir = path.join(testRunDir(), sub);
  mkdirSync(dir, { recursive: true });
  return path.join(dir, file);
}

export function registerSecret(kind: SecretKind, value: string): void {
  appendFileSync(fileIn('secrets', `${process.pid}.jsonl`), `${JSON.stringify({ kind, value } satisfies RegisteredSecret)}\n`);
}

let streams = 0;
const pending = new Map<number, Buffer[]>();

/** Writes what the captures hold; synchronous, so that it also runs in the process's 'exit' handler. */
function flushCaptures(): void {
  for (const [fd, chunks] of pending) {
    if (chunks.length > 0) writeSync(fd, Buffer.concat(chunks.splice(0)));
  }
}
// Lines are written in batches (a write per line would stall a test's event loop under disk load), and
// whatever is left when the process ends.
setInterval(flushCaptures, 100).unref();
process.on('exit', flushCaptures);

/** A log destination that keeps every line in `lines` and appends it to the run directory. */
export function captureLogs(name: string): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  let fd: number | undefined;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      fd ??= openSync(fileIn('logs', `${name}-${process.pid}-${(streams += 1)}.log`), 'a');
      const chunks = pending.get(fd) ?? [];
      chunks.push(Buffer.from(chunk));
      pending.set(fd, chunks);
      callback();
    },
  });
  return { stream, lines };
}

/** The service's own logger (serializers, redaction) writing to a capture: what production would log. */
export function testLogger(name: string, level = 'debug'): { log: Logger; lines: string[] } {
  const { stream, lines } = captureLogs(name);
  return { log: createLogger(level, stream), lines };
}
