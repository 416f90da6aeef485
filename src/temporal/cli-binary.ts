// Finds a real `temporal` CLI binary (it runs the local dev server), in the order the README documents:
//   1. $TEMPORAL_CLI_PATH
//   2. `temporal` on PATH
//   3. the copy cached inside the project (.cache/temporal/temporal, git-ignored)
//   4. the per-user Go bin directory (GOBIN or GOPATH/bin), where an earlier `go install` put it
//   5. building it with `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` when Go is present
import path from 'node:path';
import { cacheInProject, findOnPath, goBinDir, goInstall, isExecutable, PROJECT_CACHE_DIR, stderrReport } from './go-binaries';

/** v1.5.1 is the newest tag `go install` accepts: later tags carry a `replace` directive it refuses. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export const PROJECT_CACHE_BINARY = path.join(PROJECT_CACHE_DIR, 'temporal');

export interface ResolvedCli {
  path: string;
  source: 'env' | 'path' | 'project-cache' | 'go-bin' | 'go-install';
}

/** Resolves without building anything; undefined when only a build could help. */
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
    return { path: cacheInProject(path.join(binDir, 'temporal'), 'temporal'), source: 'go-bin' };
  }
  return undefined;
}

/** Builds the CLI with `go install` (./go-binaries.ts), then copies it into the project cache. */
export async function buildTemporalCli(report: (line: string) => void = stderrReport): Promise<ResolvedCli | undefined> {
  if (!(await goInstall('the Temporal CLI', [TEMPORAL_CLI_MODULE], report))) return undefined;
  const binDir = await goBinDir();
  const built = binDir && path.join(binDir, 'temporal');
  if (!built || !isExecutable(built)) return undefined;
  return { path: cacheInProject(built, 'temporal'), source: 'go-install' };
}

/** Finds or builds the CLI; undefined when neither works (no Go, no binary). */
export async function resolveTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<ResolvedCli | undefined> {
  return (await findTemporalCli(env)) ?? (await buildTemporalCli());
}
