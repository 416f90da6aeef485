// Starts bench/server-main.ts in a child process and reads its peak memory (VmHWM) from /proc.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';

export interface ServerChild {
  child: ChildProcess;
  url: string;
  /** The service's internal operations port (/metrics); the webhook url for the other modes. */
  metricsUrl: string;
  pid: number;
  /** Peak resident memory so far (MiB), from /proc/<pid>/status; undefined off Linux. */
  peakRssMb(): number | undefined;
  /** Resident memory now (MiB); undefined off Linux or after exit. */
  rssMb(): number | undefined;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** A file for the child's log lines when BENCH_CHILD_LOGS names a directory, else 'ignore'. */
function childLog(mode: string): 'ignore' | number {
  const dir = process.env.BENCH_CHILD_LOGS;
  if (!dir) return 'ignore';
  mkdirSync(dir, { recursive: true });
  return openSync(path.join(dir, `${mode}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`), 'a');
}

/**
 * The node flags the image's command runs the service with (the Dockerfile's CMD, e.g. its heap limit:
 * docs/production.md), so every server here runs as in production, the baselines included.
 */
export function imageNodeFlags(): string[] {
  const dockerfile = readFileSync(path.join(__dirname, '..', '..', 'Dockerfile'), 'utf8');
  const cmd = [...dockerfile.matchAll(/^CMD\s+(\[.*\])\s*$/gm)].at(-1)?.[1];
  if (!cmd) throw new Error('the Dockerfile has no CMD in exec form');
  return (JSON.parse(cmd) as string[]).slice(1).filter((arg) => arg.startsWith('--'));
}

export async function startServerChild(mode: 'service' | 'bare' | 'inline', env: Record<string, string>, options: { cpuProfDir?: string } = {}): Promise<ServerChild> {
  const execArgv = [...imageNodeFlags(), '--import', 'tsx'];
  if (options.cpuProfDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
  const child = fork(path.join(__dirname, '..', 'server-main.ts'), [], {
    // BENCH_NODE: another Node for every server, e.g. the image's (test/helpers/node-lts.ts).
    ...(process.env.BENCH_NODE ? { execPath: process.env.BENCH_NODE } : {}),
    execArgv,
    env: { ...process.env, ...env, BENCH_SERVER: mode },
    // Logs go nowhere (as to a log shipper that keeps up), or with BENCH_CHILD_LOGS=<dir> to a file per
    // child (to read where a scenario's time went); errors still show.
    stdio: ['ignore', childLog(mode), 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const { port, metricsPort } = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    child.on('message', (m: { ready?: boolean; port?: number; metricsPort?: number }) => {
      if (m.ready) resolve({ port: m.port ?? 0, metricsPort: m.metricsPort ?? m.port ?? 0 });
    });
    child.once('exit', (code) => reject(new Error(`${mode} server exited early with code ${code}`)));
  });
  const pid = child.pid ?? 0;
  let lastPeak: number | undefined;
  const peakRssMb = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) lastPeak = Number(m[1]) / 1024;
    } catch {
      // exited: keep the last reading
    }
    return lastPeak;
  };
  const rssMb = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    pid,
    peakRssMb,
    rssMb,
    async stop() {
      peakRssMb();
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
