// Finds or builds (once, cached) the pinned Temporal server and its SQL schema tool, like the CLI's
// resolution (src/temporal/cli-binary.ts), in this order:
//   1. $TEMPORAL_SERVER_PATH and $TEMPORAL_SQL_TOOL_PATH
//   2. `temporal-server` and `temporal-sql-tool` on PATH (the names Temporal's release archives use)
//   3. the copies cached inside the project (.cache/temporal/, git-ignored)
//   4. Go's per-user bin directory, where `go install` names them `server` and `sql`
//   5. building them: `go install go.temporal.io/server/cmd/server@v1.29.1 .../cmd/tools/sql@v1.29.1`
// Every candidate must report version 1.29.1: the schema it sets up must be the one the server expects.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheInProject, findOnPath, goBinDir, goInstall, isExecutable, PROJECT_CACHE_DIR, stderrReport } from '../../src/temporal/go-binaries';

const execFileAsync = promisify(execFile);

/** v1.29.1 builds with the Go installed here; newer server releases need a newer Go. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_PACKAGES = [`${TEMPORAL_SERVER_MODULE}/cmd/server@v${TEMPORAL_SERVER_VERSION}`, `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`];

export interface ServerBinaries {
  server: string;
  sqlTool: string;
  source: 'env' | 'path' | 'project-cache' | 'go-bin' | 'go-install';
}

/** `--version` of either binary prints "<name> version 1.29.1". */
async function hasVersion(binary: string, name: RegExp): Promise<boolean> {
  try {
    const { stdout } = await execFileAsync(binary, ['--version'], { timeout: 10_000 });
    return name.test(stdout) && stdout.trim().endsWith(` ${TEMPORAL_SERVER_VERSION}`);
  } catch {
    return false;
  }
}

async function verified(server: string, sqlTool: string): Promise<boolean> {
  return isExecutable(server) && isExecutable(sqlTool) && (await hasVersion(server, /^temporal version/)) && (await hasVersion(sqlTool, /^temporal-sql-tool version/));
}

const CACHED = { server: path.join(PROJECT_CACHE_DIR, 'temporal-server'), sqlTool: path.join(PROJECT_CACHE_DIR, 'temporal-sql-tool') };

/** Resolves without building; undefined when only a build could help. */
export async function findServerBinaries(env: NodeJS.ProcessEnv = process.env): Promise<ServerBinaries | undefined> {
  if (env.TEMPORAL_SERVER_PATH || env.TEMPORAL_SQL_TOOL_PATH) {
    const server = env.TEMPORAL_SERVER_PATH ?? '';
    const sqlTool = env.TEMPORAL_SQL_TOOL_PATH ?? '';
    if (!(await verified(server, sqlTool))) {
      throw new Error(`TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH must both name Temporal ${TEMPORAL_SERVER_VERSION} binaries (got "${server}", "${sqlTool}")`);
    }
    return { server, sqlTool, source: 'env' };
  }
  const onPath = { server: findOnPath('temporal-server', env.PATH), sqlTool: findOnPath('temporal-sql-tool', env.PATH) };
  if (onPath.server && onPath.sqlTool && (await verified(onPath.server, onPath.sqlTool))) return { server: onPath.server, sqlTool: onPath.sqlTool, source: 'path' };
  if (await verified(CACHED.server, CACHED.sqlTool)) return { ...CACHED, source: 'project-cache' };
  const binDir = await goBinDir();
  if (binDir) {
    const built = { server: path.join(binDir, 'server'), sqlTool: path.join(binDir, 'sql') };
    if (await verified(built.server, built.sqlTool)) return { ...cacheBoth(built), source: 'go-bin' };
  }
  return undefined;
}

function cacheBoth(built: { server: string; sqlTool: string }): { server: string; sqlTool: string } {
  return { server: cacheInProject(built.server, 'temporal-server'), sqlTool: cacheInProject(built.sqlTool, 'temporal-sql-tool') };
}

/** Finds or builds both binaries; throws when neither works. */
export async function resolveServerBinaries(report: (line: string) => void = stderrReport, env: NodeJS.ProcessEnv = process.env): Promise<ServerBinaries> {
  const found = await findServerBinaries(env);
  if (found) return found;
  if (await goInstall(`the Temporal server ${TEMPORAL_SERVER_VERSION}`, TEMPORAL_SERVER_PACKAGES, report)) {
    const binDir = await goBinDir();
    const built = binDir ? { server: path.join(binDir, 'server'), sqlTool: path.join(binDir, 'sql') } : undefined;
    if (built && (await verified(built.server, built.sqlTool))) return { ...cacheBoth(built), source: 'go-install' };
  }
  throw new Error(`no Temporal server ${TEMPORAL_SERVER_VERSION}: install Go (1.25 or newer) so it can be built, or set TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH`);
}
