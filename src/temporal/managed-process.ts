// A server process we launch and own (the Temporal dev server for the embedded default; the Temporal
// server in scripts/temporal-server.ts): spawned with its output appended to a log file or discarded
// (a short tail kept for error messages), readiness polled rather than waited for, stopped with SIGTERM
// and, past a timeout, SIGKILL. A child still running when this process exits is killed with it, so a
// crashed parent leaves no orphaned server holding its ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, fstatSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

export interface ManagedProcessOptions {
  /** Names the process in errors, e.g. "Temporal dev server". */
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Appends stdout and stderr here (created with its directory); discarded when absent. */
  logFile?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Settles when the process has exited, for whatever reason. */
  readonly exited: Promise<ExitStatus>;
  running(): boolean;
  /** The end of what it wrote (from the log file when there is one), for error messages. */
  tail(): string;
  /** SIGTERM, then SIGKILL when it has not exited after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
  /** SIGKILL at once: a crash, as the fault tests need it. */
  kill(): Promise<ExitStatus>;
}

const TAIL_BYTES = 4096;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function readTail(file: string): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function startManagedProcess(options: ManagedProcessOptions): ManagedProcess {
  let logFd: number | undefined;
  if (options.logFile) {
    mkdirSync(path.dirname(options.logFile), { recursive: true });
    logFd = openSync(options.logFile, 'a', 0o600);
  }
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    // With a log file the child writes to it directly, so its log outlives this process.
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
  });
  if (logFd !== undefined) closeSync(logFd);
  let recent = '';
  const keep = (chunk: Buffer) => {
    recent = (recent + chunk.toString('utf8')).slice(-TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  installExitHook();
  live.add(child);
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    const done = (value: ExitStatus) => {
      live.delete(child);
      status ??= value;
      resolve(status);
    };
    child.once('exit', (code, signal) => done({ code, signal }));
    // Spawning itself failed (no such binary): reported as an exit, with the reason in the tail.
    child.once('error', (err) => {
      keep(Buffer.from(`\n${err.message}`));
      done({ code: null, signal: null });
    });
  });

  const signalAndWait = async (signal: NodeJS.Signals, timeoutMs: number): Promise<ExitStatus> => {
    if (status) return status;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    name: options.name,
    pid: child.pid ?? 0,
    child,
    exited,
    running: () => status === undefined,
    tail: () => (options.logFile ? readTail(options.logFile) : recent),
    stop: (timeoutMs = 10_000) => signalAndWait('SIGTERM', timeoutMs),
    kill: () => signalAndWait('SIGKILL', 0),
  };
}

/**
 * Polls `check` until it resolves true; fails at once, with the end of the process's output, when the
 * process exits first, and after `timeoutMs` otherwise.
 */
export async function waitUntilReady(proc: ManagedProcess, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (!proc.running()) {
      const { code, signal } = await proc.exited;
      throw new Error(`${proc.name} exited (${signal ?? `code ${code}`}) before ${what}:\n${proc.tail().trim()}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`${proc.name} not ready (${what}) after ${timeoutMs / 1000} s${lastError ? `: ${lastError}` : ''}:\n${proc.tail().trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A TCP port free on `host` right now (the OS picks it), for a server that needs a fixed port flag. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
