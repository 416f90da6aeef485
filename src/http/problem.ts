// Every error answer of economic-sync's HTTP surface, in the contract's shape (docs/webhook.md):
// `{"error": "<code>", "message": "<human sentence>"}`. Messages are fixed sentences: never a request's
// URL, query, body or an error's own message, any of which can carry a secret.
import type { FastifyReply } from 'fastify';

export interface Problem {
  status: number;
  error: string;
  message: string;
}

export function sendProblem(reply: FastifyReply, problem: Problem, retryAfterSeconds?: number): FastifyReply {
  if (retryAfterSeconds !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  return reply.code(problem.status).type('application/json; charset=utf-8').send({ error: problem.error, message: problem.message });
}

const WEBHOOK_HINT = 'e-conomic webhooks POST to /?APIKey=<key>&APISource=<source> (docs/webhook.md).';

export const PROBLEMS = {
  notFound: { status: 404, error: 'not_found', message: `There is no such endpoint. ${WEBHOOK_HINT}` },
  methodNotAllowed: { status: 405, error: 'method_not_allowed', message: `This endpoint does not take that method (see the Allow header). ${WEBHOOK_HINT}` },
  badRequest: { status: 400, error: 'bad_request', message: 'The request could not be read.' },
  requestTimeout: { status: 408, error: 'request_timeout', message: 'The request did not arrive in time.' },
  headersTooLarge: { status: 431, error: 'headers_too_large', message: 'The request headers are too large.' },
  internal: { status: 500, error: 'internal_error', message: 'The request could not be handled; please retry.' },
} satisfies Record<string, Problem>;
