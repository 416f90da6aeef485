// The webhook e-conomic calls (docs/webhook.md): `POST /?APIKey=&APISource=` and its alias
// `POST /webhooks/economic`. Order of checks: API key (401, before anything about the body is said),
// rate limit (429), content type and size (415, 413), APISource and body (400), then durable
// acceptance (202, or 503 when the event could not be made durable anywhere).
import formbody from '@fastify/formbody';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyAuthenticator, AuthenticatedKey } from '../access/api-keys';
import type { GrantRecorder } from '../ingest/grant-recorder';
import type { Ingestor } from '../ingest/ingestor';
import { isApiSource } from '../shared/entities';
import type { Metrics } from './metrics';
import type { RateLimiter } from './rate-limit';
import { validateBody, validateSource, type WebhookProblem } from './webhook-validation';

export interface WebhookDeps {
  authenticator: ApiKeyAuthenticator;
  rateLimiter: RateLimiter;
  ingestor: Ingestor;
  grants: GrantRecorder;
  metrics: Metrics;
}

export const WEBHOOK_PATHS = ['/', '/webhooks/economic'] as const;
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

interface RequestState {
  startedAt: number;
  key?: AuthenticatedKey;
}

function sourceLabel(request: FastifyRequest): string {
  const source = (request.query as Record<string, unknown> | undefined)?.APISource;
  return isApiSource(source) ? source : 'unknown';
}

function fail(reply: FastifyReply, problem: WebhookProblem, retryAfterSeconds?: number): FastifyReply {
  if (retryAfterSeconds !== undefined) void reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(problem.status).type('application/json; charset=utf-8').send({ error: problem.error, message: problem.message });
}

export function webhookRoutes(deps: WebhookDeps): (app: FastifyInstance) => Promise<void> {
  const state = new WeakMap<FastifyRequest, RequestState>();
  const count = (request: FastifyRequest, outcome: string) => deps.metrics.webhookEvents.inc({ source: sourceLabel(request), outcome });

  return async (app) => {
    await app.register(async (scope) => {
      // Only the two body formats e-conomic may send; anything else is a 415.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('application/json', { parseAs: 'string' }, scope.getDefaultJsonParser('error', 'error'));
      await scope.register(formbody);

      scope.setErrorHandler((err: FastifyError, request, reply) => {
        const status = err.statusCode ?? 500;
        // Never err.message: a JSON parse error quotes the body, which holds the grant token.
        if (status === 413) {
          count(request, 'too_large');
          return fail(reply, { status, error: 'payload_too_large', message: 'The body is larger than 16 KiB.' });
        }
        if (status === 415) {
          count(request, 'unsupported_media_type');
          return fail(reply, { status, error: 'unsupported_media_type', message: 'Send the body as application/json (or application/x-www-form-urlencoded).' });
        }
        if (status >= 400 && status < 500) {
          count(request, 'invalid');
          return fail(reply, {
            status: 400,
            error: 'invalid_body',
            message: 'The body could not be read: it must be a JSON object (or a form) with the fields "eConomicAPIKey" and "number".',
          });
        }
        count(request, 'error');
        request.log.error({ errCode: err.code, errName: err.name }, 'webhook failed unexpectedly');
        return fail(reply, { status: 500, error: 'internal_error', message: 'The event could not be handled; please retry.' });
      });

      const onRequest = async (request: FastifyRequest, reply: FastifyReply) => {
        const started = performance.now();
        const query = (request.query ?? {}) as Record<string, unknown>;
        const auth = await deps.authenticator.authenticate(query.APIKey);
        if (!auth.ok) {
          if (auth.reason === 'unavailable') {
            count(request, 'unavailable');
            return fail(reply, { status: 503, error: 'unavailable', message: 'The API key cannot be checked right now; please retry.' }, UNAVAILABLE_RETRY_AFTER_SECONDS);
          }
          count(request, 'unauthorized');
          return fail(reply, { status: 401, error: 'unauthorized', message: 'The APIKey query parameter is missing, unknown or revoked.' });
        }
        const wait = deps.rateLimiter.take(auth.key.keyHash);
        if (wait > 0) {
          count(request, 'rate_limited');
          return fail(reply, { status: 429, error: 'rate_limited', message: 'Too many requests for this API key; retry after the time given in Retry-After.' }, wait);
        }
        state.set(request, { startedAt: started, key: auth.key });
      };

      const handler = async (request: FastifyRequest, reply: FastifyReply) => {
        const current = state.get(request);
        const key = current?.key;
        if (!current || !key) return fail(reply, { status: 401, error: 'unauthorized', message: 'The APIKey query parameter is missing, unknown or revoked.' });
        const query = (request.query ?? {}) as Record<string, unknown>;
        const source = validateSource(query.APISource);
        if (!source.ok) {
          count(request, 'invalid');
          return fail(reply, source.problem);
        }
        if (request.body === undefined) {
          const hasType = request.headers['content-type'] !== undefined;
          count(request, hasType ? 'invalid' : 'unsupported_media_type');
          return hasType
            ? fail(reply, { status: 400, error: 'invalid_body', message: 'The body is empty: it must hold the fields "eConomicAPIKey" and "number".' })
            : fail(reply, { status: 415, error: 'unsupported_media_type', message: 'Send the body as application/json (or application/x-www-form-urlencoded).' });
        }
        const input = validateBody(source.source, request.body);
        if (!input.ok) {
          count(request, 'invalid');
          return fail(reply, input.problem);
        }
        const { value } = input;
        await deps.grants.record(key.tenantId, value.grantToken);
        const accepted = await deps.ingestor.accept({
          tenantId: key.tenantId,
          tenant: key.tenant,
          source: value.source,
          number: value.number,
          oldNumber: value.oldNumber,
        });
        const logFields = { eventId: accepted.eventId, workflowId: accepted.workflowId, tenant: key.tenant, source: value.source, number: value.number, outcome: accepted.outcome };
        deps.metrics.webhookEvents.inc({ source: value.source, outcome: accepted.outcome });
        if (accepted.outcome === 'unavailable') {
          request.log.error(logFields, 'webhook event refused: could not be made durable');
          return fail(
            reply,
            { status: 503, error: 'unavailable', message: 'The event could not be recorded right now; please retry.' },
            UNAVAILABLE_RETRY_AFTER_SECONDS,
          );
        }
        deps.metrics.acceptanceSeconds.observe((performance.now() - current.startedAt) / 1000);
        request.log.info(logFields, 'webhook event accepted');
        return reply.code(202).send({ eventId: accepted.eventId, workflowId: accepted.workflowId });
      };

      for (const url of WEBHOOK_PATHS) scope.post(url, { onRequest }, handler);
    });
  };
}
