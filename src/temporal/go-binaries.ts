// Finding and building the Go programs this project runs but does not ship: the Temporal CLI (the dev
// server, ./cli-binary.ts) and, for a cluster, the Temporal server and its SQL schema tool
// (scripts/temporal-server/binaries.ts). A build goes through `go install` into Go's per-user bin
// directory, a cache that outlives any checkout, so a fresh clone in CI finds it instead of rebuilding.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../project-root';

const execFileAsync = promisify(execFile);

/** Git-ignored copies of built binaries inside the project (what a container build can COPY). */
export const PROJECT_CACHE_DIR = path.join(PROJECT_ROOT, '.cache', 'temporal');

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export function findOnPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function findGo(): string | undefined {
  return findOnPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/** Where `go install` puts binaries: GOBIN, else the first GOPATH entry's bin. */
export async function goBinDir(): Promise<string | undefined> {
  const go = findGo();
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

/** Go's module cache (GOMODCACHE), where `go install` left the modules' sources (e.g. Temporal's schema). */
export async function goModCache(): Promise<string | undefined> {
  const go = findGo();
  if (!go) return undefined;
  try {
    const { stdout } = await execFileAsync(go, ['env', 'GOMODCACHE']);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Copies a binary into the project cache under `name` and returns the copy's path. */
export function cacheInProject(binary: string, name: string): string {
  const target = path.join(PROJECT_CACHE_DIR, name);
  mkdirSync(PROJECT_CACHE_DIR, { recursive: true });
  copyFileSync(binary, target);
  return target;
}

/**
 * `go install <modules>` into Go's bin directory; false when Go is missing or the build fails. The first
 * build takes minutes: progress is reported every 15 s so nobody thinks it hung.
 */
export async function goInstall(what: string, modules: readonly string[], report: (line: string) => void): Promise<boolean> {
  const go = findGo();
  const binDir = await goBinDir();
  if (!go || !binDir) return false;
  report(`Building ${what} (${modules.join(' ')}) with Go into ${binDir}; the first build takes a few minutes...`);
  const started = Date.now();
  const ticker = setInterval(() => report(`  still building ${what} (${Math.round((Date.now() - started) / 1000)} s)...`), 15_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', ...modules], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install exited with code ${code}`))));
    });
  } catch (err) {
    report(`Could not build ${what}: ${(err as Error).message}`);
    return false;
  } finally {
    clearInterval(ticker);
  }
  report(`${what} built in ${Math.round((Date.now() - started) / 1000)} s.`);
  return true;
}

export const stderrReport = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
