// The embedded database (PGlite) can be open in one process only. While the service runs on it, the
// CLI forwards its command over a Unix socket under DATA_DIR to the service, which runs the same
// handler against its own database. With DATABASE_URL set the CLI never needs this. Whoever can connect
// can run any command (create API keys): the socket is the owner's alone (0600), whatever the umask.
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { runCommand } from './commands';
import { CliError, type CommandContext, type CommandResult } from './context';

export function adminSocketPath(dataDir: string): string {
  return path.join(dataDir, 'admin.sock');
}

interface AdminRequest {
  command: string;
  args: Record<string, unknown>;
}

type AdminResponse = { ok: true; result: CommandResult } | { ok: false; error: string };

/** Serves forwarded commands; returns a function that stops serving. */
export async function serveAdminSocket(ctx: CommandContext, socketPath: string): Promise<() => Promise<void>> {
  if (existsSync(socketPath)) unlinkSync(socketPath); // left by a process that did not stop cleanly
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const reply = (response: AdminResponse) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(response));
      };
      let request: AdminRequest;
      try {
        request = JSON.parse(body) as AdminRequest;
      } catch {
        reply({ ok: false, error: 'malformed admin request' });
        return;
      }
      runCommand(ctx, request.command, request.args).then(
        (result) => reply({ ok: true, result }),
        (err: unknown) => reply({ ok: false, error: err instanceof CliError ? err.message : `internal error: ${(err as Error).message}` }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Node binds the socket file synchronously inside listen(): created under this umask, it is never
    // open to others, not even for an instant; restored at once (the umask is process-wide).
    const umask = process.umask(0o177);
    try {
      server.listen(socketPath, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(socketPath, 0o600);
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

/** Sends a command to the running service; undefined when no service listens on the socket. */
export async function forwardCommand(socketPath: string, command: string, args: Record<string, unknown>): Promise<CommandResult | undefined> {
  if (!existsSync(socketPath)) return undefined;
  let response: AdminResponse;
  try {
    response = await new Promise<AdminResponse>((resolve, reject) => {
      const req = http.request({ socketPath, path: '/', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body) as AdminResponse);
          } catch {
            reject(new Error('malformed answer from the running service'));
          }
        });
      });
      req.on('error', reject);
      req.end(JSON.stringify({ command, args } satisfies AdminRequest));
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT') return undefined; // stale socket: no service running
    throw err;
  }
  if (!response.ok) throw new CliError(response.error);
  return response.result;
}
