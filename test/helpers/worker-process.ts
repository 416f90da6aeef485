// Runs the sync worker in a child process, so a test can kill it the hard way (SIGKILL), as a crash or
// an OOM kill would, and start a fresh one.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';

export interface WorkerProcessEnv {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  databaseUrl: string;
  restUrl: string;
  projectsUrl: string;
  appSecretToken: string;
  secretsKeyHex: string;
  clientTimeoutMs?: number;
}

export interface WorkerProcess {
  child: ChildProcess;
  /** SIGKILL: no graceful shutdown, in-flight tasks are abandoned. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWorkerProcess(env: WorkerProcessEnv): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'worker-main.ts')], {
    env: { ...process.env, WORKER_ENV: JSON.stringify(env) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The child prints "ready" once its worker polls the task queue.
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker process exited early with code ${code}`)));
  });
  const exited = once(child, 'exit');
  return {
    child,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
