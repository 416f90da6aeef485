// The Fastify server both of economic-sync's ports are built on (the webhook port, ./app.ts, and the
// internal metrics port, ./ops-app.ts), with what makes an HTTP surface safe to expose:
// - timeouts, so a slow or idle client cannot hold a socket for ever (docs/configuration.md, HTTP_*);
// - the client address taken from X-Forwarded-For only from the proxies TRUST_PROXY names;
// - every answer Fastify or Node would write by themselves (unknown route, wrong method, malformed URL,
//   unparsable request, timeout) replaced by the contract's JSON shape, without the URL, which holds the
//   API key (Fastify's defaults echo it: "Route GET:/?APIKey=... not found", "'/...' is not a valid url");
// - one logger shared with the service, whose request serializer logs the matched route, never the URL;
//   a route whose config sets `ownLogLine` writes its own line per request (the webhook: one line with
//   the outcome, not Fastify's two), because at thousands of webhooks a second the log lines and their
//   redaction were a fifth of the process's CPU (docs/webhook.md, "Logs").
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { HttpTimeouts, TrustProxy } from '../config';
import type { Logger } from '../logger';
import { PROBLEMS, sendProblem, type Problem } from './problem';

export interface HttpServerOptions {
  /** The process's logger (its serializers and redaction apply to Fastify's own lines); none: silent. */
  log?: Logger;
  trustProxy: TrustProxy;
  timeouts: HttpTimeouts;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route logs one line per request itself; Fastify's request lines are skipped for it. */
    ownLogLine?: boolean;
  }
}

function logsItsOwnLine(request: FastifyRequest): boolean {
  return request.routeOptions?.config?.ownLogLine === true;
}

/** Largest body any endpoint takes: a webhook body is a few dozen bytes (docs/webhook.md: 16 KiB). */
export const BODY_LIMIT_BYTES = 16 * 1024;

/**
 * Connections the kernel queues for `accept` (the `listen` backlog; Linux caps it at net.core.somaxconn).
 * Node's default, 511, is less than the sockets a burst opens at once: at 1,000, the kernel dropped the
 * attempts beyond the queue, and their senders retried each a second later (docs/benchmarks.md, "Burst,
 * measured on 2026-11-30").
 */
export const LISTEN_BACKLOG = 4096;

/** Answers a request Node could not parse (or that timed out) on the raw socket, then closes it. */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const problem: Problem =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? PROBLEMS.requestTimeout : err.code === 'HPE_HEADER_OVERFLOW' ? PROBLEMS.headersTooLarge : PROBLEMS.badRequest;
  const body = JSON.stringify({ error: problem.error, message: problem.message });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const { timeouts } = options;
  const app = Fastify({
    ...(options.log ? { loggerInstance: options.log } : { logger: false }),
    logController: new LogController({ disableRequestLogging: logsItsOwnLine }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: options.trustProxy,
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    connectionTimeout: timeouts.connectionTimeoutMs,
    http: {
      headersTimeout: timeouts.headersTimeoutMs,
      // Node checks the request and headers deadlines only this often (30 s by default, which would
      // let a 5 s deadline run to 35 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.headersTimeoutMs / 4))),
    },
    return503OnClosing: true,
    clientErrorHandler: answerClientError,
    frameworkErrors: (_error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      void sendProblem(reply, PROBLEMS.badRequest);
    },
  }) as unknown as FastifyInstance;

  // Which methods each path takes, so that another method on a known path is a 405 (with Allow), not a 404.
  const allowed = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = allowed.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    allowed.set(route.url, methods);
  });

  const unrouted = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? '';
    const methods = allowed.get(path);
    if (methods && methods.size > 0) {
      void reply.header('allow', [...methods].sort().join(', '));
      return sendProblem(reply, PROBLEMS.methodNotAllowed);
    }
    return sendProblem(reply, PROBLEMS.notFound);
  };
  app.setNotFoundHandler(async (request, reply) => unrouted(request, reply));

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    // Fastify may fail a request that matched no route before the not-found handler runs (a QUERY
    // without Content-Type): it is still a 404 or 405.
    if (request.is404) return unrouted(request, reply);
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendProblem(reply, { ...PROBLEMS.badRequest, status });
    // The error's code and name only: its message may quote the request.
    request.log.error({ errCode: err.code, errName: err.name }, 'request failed unexpectedly');
    return sendProblem(reply, PROBLEMS.internal);
  });

  // Outside the webhook (which parses its own two formats) a body means nothing: it is not read, so a
  // malformed one cannot turn a 404 or 405 into another answer.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  return app;
}
