// Finds a real `temporal` CLI binary, in the order the README documents:
//   1. $TEMPORAL_CLI_PATH
//   2. `temporal` on PATH
//   3. the copy cached inside the project (.cache/temporal/temporal, git-ignored)
//   4. the per-user Go bin directory (GOBIN or GOPATH/bin), where an earlier `go install` put it
//   5. building it with `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` when Go is present
// When none works, callers fall back to the Temporal SDK's own download of the dev server.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** v1.5.1 is the newest tag `go install` accepts: later tags carry a `replace` directive it refuses. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const PROJECT_CACHE_BINARY = path.join(PROJECT_ROOT, '.cache', 'temporal', 'temporal');

export interface ResolvedCli {
  path: string;
  source: 'env' | 'path' | 'project-cache' | 'go-bin' | 'go-install';
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function goBinDir(): Promise<string | undefined> {
  const go = findOnPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) return undefined;
  try {
    const { stdout } = await execFileAsync(go, ['env', 'GOBIN', 'GOPATH']);
    const [gobin, gopath] = stdout.split('\n').map((s) => s.trim());
    if (gobin) return gobin;
    if (gopath) return path.join(gopath.split(path.delimiter)[0] ?? gopath, 'bin');
  } catch {
    return undefined;
  }
  return undefined;
}

function cacheInProject(binary: string): string {
  mkdirSync(path.dirname(PROJECT_CACHE_BINARY), { recursive: true });
  copyFileSync(binary, PROJECT_CACHE_BINARY);
  return PROJECT_CACHE_BINARY;
}

/** Resolves without building anything; undefined when only a build (or the SDK download) could help. */
export async function findTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<ResolvedCli | undefined> {
  const fromEnv = env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return { path: fromEnv, source: 'env' };
  }
  const onPath = findOnPath('temporal', env.PATH);
  if (onPath) return { path: onPath, source: 'path' };
  if (isExecutable(PROJECT_CACHE_BINARY)) return { path: PROJECT_CACHE_BINARY, source: 'project-cache' };
  const binDir = await goBinDir();
  if (binDir && isExecutable(path.join(binDir, 'temporal'))) {
    return { path: cacheInProject(path.join(binDir, 'temporal')), source: 'go-bin' };
  }
  return undefined;
}

/**
 * Builds the CLI with `go install` into Go's own bin directory (a per-user cache that outlives this
 * checkout, so a fresh clone in CI does not rebuild it), then copies it into the project cache. The
 * first build takes minutes: progress is reported every 15 s so nobody thinks it hung.
 */
export async function buildTemporalCli(report: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<ResolvedCli | undefined> {
  const go = findOnPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) return undefined;
  const binDir = await goBinDir();
  if (!binDir) return undefined;
  report(`Building the Temporal CLI (${TEMPORAL_CLI_MODULE}) with Go into ${binDir}; the first build takes a few minutes...`);
  const started = Date.now();
  const ticker = setInterval(() => report(`  still building the Temporal CLI (${Math.round((Date.now() - started) / 1000)} s)...`), 15_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', TEMPORAL_CLI_MODULE], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install exited with code ${code}`))));
    });
  } catch (err) {
    report(`Could not build the Temporal CLI: ${(err as Error).message}`);
    return undefined;
  } finally {
    clearInterval(ticker);
  }
  const built = path.join(binDir, 'temporal');
  if (!isExecutable(built)) return undefined;
  report(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)} s.`);
  return { path: cacheInProject(built), source: 'go-install' };
}

/** Finds or builds the CLI; undefined means "let the SDK download its dev server". */
export async function resolveTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<ResolvedCli | undefined> {
  return (await findTemporalCli(env)) ?? (await buildTemporalCli());
}
