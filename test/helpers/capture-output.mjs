// Part of the suite's no-secret-in-logs check (scripts/run-tests.ts, test/zz-no-secrets-in-logs.test.ts):
// loaded into every Node process of a test run through NODE_OPTIONS, it copies what the process writes to
// stderr, and what a test file writes to stdout, into the run directory. Plain JavaScript: it must load
// in any process, with or without tsx. A CLI's stdout is its product (`access create` prints the new
// API key once, by design), not a log line, so only test files' stdout is copied.
import { Buffer } from 'node:buffer';
import { mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const dir = process.env.ECONOMIC_SYNC_TEST_LOG_DIR;
if (dir) {
  const file = path.join(dir, 'output', `${process.pid}.log`);
  let fd;
  const tee = (stream) => {
    const write = stream.write;
    stream.write = function (chunk, ...rest) {
      try {
        if (fd === undefined) {
          mkdirSync(path.dirname(file), { recursive: true });
          fd = openSync(file, 'a');
        }
        writeSync(fd, typeof chunk === 'string' ? chunk : Buffer.from(chunk));
      } catch {
        // A full disk must not fail the test that logged.
      }
      return write.call(this, chunk, ...rest);
    };
  };
  tee(process.stderr);
  if (process.env.NODE_TEST_CONTEXT) tee(process.stdout);
}
