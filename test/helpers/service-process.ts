// The compiled service (`node dist/src/main.js`, the image's command) as a child process in one ROLE, for
// the production-topology tests: started, probed until it serves (the webhook port's /healthz for ROLE=api,
// its poller on the task queue for ROLE=worker), killed the hard way and started again on the same port,
// or stopped with SIGTERM as a container stop would.
import { hostname } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { PROJECT_ROOT } from '../../src/project-root';
import { startManagedProcess, waitUntilReady, type ExitStatus, type ManagedProcess } from '../../src/temporal/managed-process';

export interface ServiceProcessOptions {
  name: string;
  role: 'api' | 'worker';
  /** The node binary (the image's Node LTS). */
  node: string;
  /** The image's command after `node`, run in `cwd` (the app directory). */
  command?: string[];
  cwd?: string;
  env: Record<string, string>;
  /** For ROLE=api: the webhook port (kept across restarts, as a container's is). */
  port?: number;
  /** The internal operations port (METRICS_PORT); an ephemeral one when absent, so processes on one host never collide. */
  metricsPort?: number;
  logFile: string;
  /** Run as this user id and group id (setpriv), as the image's `USER node` does. */
  runAs?: { uid: number; gid: number };
}

export interface ServiceProcess {
  readonly name: string;
  readonly role: 'api' | 'worker';
  url?: string;
  /** The operations port's base URL, when a metricsPort was given. */
  metricsUrl?: string;
  current(): ManagedProcess;
  start(): Promise<void>;
  kill(): Promise<ExitStatus>;
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

export const DEFAULT_COMMAND = ['dist/src/main.js'];

export function serviceProcess(options: ServiceProcessOptions, ready: (proc: ManagedProcess) => Promise<void>): ServiceProcess {
  let proc: ManagedProcess | undefined;
  const url = options.port === undefined ? undefined : `http://127.0.0.1:${options.port}`;
  const metricsUrl = options.metricsPort === undefined ? undefined : `http://127.0.0.1:${options.metricsPort}`;
  const command = options.command ?? DEFAULT_COMMAND;
  const spawnArgs = options.runAs
    ? { command: 'setpriv', args: [`--reuid=${options.runAs.uid}`, `--regid=${options.runAs.gid}`, '--clear-groups', options.node, ...command] }
    : { command: options.node, args: command };
  return {
    name: options.name,
    role: options.role,
    url,
    metricsUrl,
    current() {
      if (!proc) throw new Error(`${options.name} was never started`);
      return proc;
    },
    async start() {
      proc = startManagedProcess({
        name: options.name,
        ...spawnArgs,
        cwd: options.cwd ?? PROJECT_ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          ...options.env,
          ROLE: options.role,
          METRICS_PORT: String(options.metricsPort ?? 0),
          ...(options.port === undefined ? {} : { PORT: String(options.port) }),
        },
        logFile: options.logFile,
      });
      await ready(proc);
    },
    kill: () => (proc ? proc.kill() : Promise.resolve({ code: null, signal: null })),
    stop: (timeoutMs = 60_000) => (proc ? proc.stop(timeoutMs) : Promise.resolve({ code: null, signal: null })),
  };
}

/** ROLE=api is up when its webhook port answers /healthz (liveness: it does not need Temporal). */
export function apiReady(url: string, timeoutMs = 60_000): (proc: ManagedProcess) => Promise<void> {
  return (proc) =>
    waitUntilReady(proc, 'its webhook port answering /healthz', async () => {
      const response = await fetch(`${url}/healthz`);
      return response.status === 200;
    }, timeoutMs);
}

/** A worker is up when Temporal lists its poller (identity `<pid>@<host>`, the SDK's default) on the queue. */
export function workerReady(client: Client, taskQueue: string, timeoutMs = 90_000): (proc: ManagedProcess) => Promise<void> {
  return (proc) =>
    waitUntilReady(proc, `its poller listed on task queue ${taskQueue}`, async () => (await pollerIdentities(client, taskQueue)).includes(`${proc.pid}@${hostname()}`), timeoutMs);
}

export async function pollerIdentities(client: Client, taskQueue: string): Promise<string[]> {
  const described = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (described.pollers ?? []).map((p) => p.identity ?? '');
}

export function logPath(dir: string, name: string): string {
  return path.join(dir, `${name}.log`);
}
