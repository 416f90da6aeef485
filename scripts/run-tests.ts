// Runs Node's test runner (the arguments are its own) with every process of the run copying its log
// output under a fresh run directory, .test-logs/run-<time>/ (test/helpers/capture-output.mjs through
// NODE_OPTIONS, and the tests' own loggers through test/helpers/test-logs.ts), so that the suite's last
// file, test/zz-no-secrets-in-logs.test.ts, can grep everything the run logged for the secrets it made.
// The runner's output passes through untouched; the exit code is the runner's.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(__dirname, '..');
const runs = path.join(root, '.test-logs');
const KEEP_RUNS = 5;

mkdirSync(runs, { recursive: true });
const previous = readdirSync(runs).filter((name) => name.startsWith('run-')).sort();
for (const name of previous.slice(0, Math.max(0, previous.length - (KEEP_RUNS - 1)))) rmSync(path.join(runs, name), { recursive: true, force: true });
const dir = path.join(runs, `run-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(dir, { recursive: true });

const capture = pathToFileURL(path.join(root, 'test', 'helpers', 'capture-output.mjs')).href;
const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: {
    ...process.env,
    ECONOMIC_SYNC_TEST_LOG_DIR: dir,
    NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${capture}`].filter(Boolean).join(' '),
  },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
