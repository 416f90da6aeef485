// The webhook e-conomic calls (docs/webhook.md): `POST /?APIKey=&APISource=` and its alias
// `POST /webhooks/economic`. Order of checks, each before any work the next one costs:
// 1. the client address's failed authentications (429): an address over AUTH_FAILURE_LIMIT is refused
//    before its key is looked up in Postgres, unless the key is one this process recently found valid
//    (e-conomic sends every tenant's webhooks from the same few addresses: one customer's revoked key
//    must not silence the others);
// 2. the API key (401, before anything about the body is said; 503 when it cannot be checked);
// 3. the key's rate limit (429);
// 4. content type and size (415, 413), APISource and body (400);
// 5. durable acceptance (202, or 503 when the event could not be made durable anywhere).
// The authenticated key travels on the request (`request.webhookKey`), set by the authentication hook.
// Both limits are @fastify/rate-limit's fixed windows in this process's memory (docs/configuration.md).
import formbody from '@fastify/formbody';
import rateLimit, { type CreateRateLimitOptions } from '@fastify/rate-limit';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyAuthenticator, AuthenticatedKey } from '../access/api-keys';
import type { RateLimits } from '../config';
import type { GrantState } from '../access/grants';
import type { GrantRecorder } from '../ingest/grant-recorder';
import type { Ingestor } from '../ingest/ingestor';
import { isApiSource } from '../shared/entities';
import type { Metrics } from './metrics';
import { sendProblem } from './problem';
import { validateBody, validateSource } from './webhook-validation';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key a webhook request authenticated with; null until (and unless) it did. */
    webhookKey: AuthenticatedKey | null;
    /** The tenant's grant state, read with the key; undefined when the key came from the last known answer. */
    webhookGrant: { current: GrantState | undefined } | undefined;
    /** performance.now() when the webhook request arrived, for the acceptance latency. */
    webhookReceivedAt: number;
    /** What the webhook's one log line says besides the request and the answer (set as it is decided). */
    webhookLog: WebhookLogFields | undefined;
  }
}

/** The outcome (the metric's label) and, once accepted, the event: no body field, no key, no token. */
interface WebhookLogFields {
  outcome: string;
  eventId?: string;
  workflowId?: string;
  tenant?: string;
  source?: string;
  number?: number;
}

export interface WebhookDeps {
  authenticator: ApiKeyAuthenticator;
  ingestor: Pick<Ingestor, 'accept'>;
  grants: GrantRecorder;
  metrics: Metrics;
  limits: RateLimits;
}

export const WEBHOOK_PATHS = ['/', '/webhooks/economic'] as const;
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
/** Addresses and keys each limit remembers (least recently seen forgotten first). */
const LIMITER_MEMORY = 20_000;

const UNAUTHORIZED = { status: 401, error: 'unauthorized', message: 'The APIKey query parameter is missing, unknown or revoked.' };
const UNSUPPORTED = { status: 415, error: 'unsupported_media_type', message: 'Send the body as application/json (or application/x-www-form-urlencoded).' };

function sourceLabel(request: FastifyRequest): string {
  const source = (request.query as Record<string, unknown> | undefined)?.APISource;
  return isApiSource(source) ? source : 'unknown';
}

export function webhookRoutes(deps: WebhookDeps): (app: FastifyInstance) => Promise<void> {
  const { limits } = deps;
  const count = (request: FastifyRequest, outcome: string) => {
    request.webhookLog = { outcome };
    deps.metrics.webhookEvents.inc({ source: sourceLabel(request), outcome });
  };

  return async (app) => {
    await app.register(async (scope) => {
      scope.decorateRequest('webhookKey', null);
      scope.decorateRequest('webhookGrant', undefined);
      scope.decorateRequest('webhookReceivedAt', 0);
      scope.decorateRequest('webhookLog', undefined);
      // One line per webhook, whatever its answer (the routes set `ownLogLine`, src/http/server.ts): method,
      // route and client address (never the URL), status, time and outcome, as flat fields to filter on.
      scope.addHook('onResponse', async (request, reply) => {
        const fields = {
          method: request.method,
          route: request.routeOptions.url,
          remoteAddress: request.ip,
          statusCode: reply.statusCode,
          responseTime: reply.elapsedTime,
          ...(request.webhookLog ?? { outcome: 'none' }),
        };
        request.log.info(fields, reply.statusCode === 202 ? 'webhook event accepted' : 'webhook answered');
      });
      await scope.register(rateLimit, { global: false });
      // `cache` (how many keys a limiter remembers) is honoured per limiter but missing from the plugin's type.
      const limiter = (options: CreateRateLimitOptions & { cache: number }) => scope.createRateLimit(options);
      // Keyed by the client address (normalized; IPv6 by /64), as TRUST_PROXY lets Fastify see it.
      const authFailures = limiter({ max: limits.authFailures, timeWindow: limits.authFailureWindowMs, cache: LIMITER_MEMORY });
      const perKey = limiter({
        max: limits.perKey,
        timeWindow: limits.perKeyWindowMs,
        keyGenerator: (request) => request.webhookKey?.keyHash ?? '',
        cache: LIMITER_MEMORY,
      });

      // Only the two body formats e-conomic may send; anything else is a 415.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('application/json', { parseAs: 'string' }, scope.getDefaultJsonParser('error', 'error'));
      await scope.register(formbody);

      scope.setErrorHandler((err: FastifyError, request, reply) => {
        const status = err.statusCode ?? 500;
        // Never err.message: a JSON parse error quotes the body, which holds the grant token.
        if (status === 413) {
          count(request, 'too_large');
          return sendProblem(reply, { status, error: 'payload_too_large', message: 'The body is larger than 16 KiB.' });
        }
        if (status === 415) {
          count(request, 'unsupported_media_type');
          return sendProblem(reply, UNSUPPORTED);
        }
        if (status >= 400 && status < 500) {
          count(request, 'invalid');
          return sendProblem(reply, {
            status: 400,
            error: 'invalid_body',
            message: 'The body could not be read: it must be a JSON object (or a form) with the fields "eConomicAPIKey" and "number".',
          });
        }
        count(request, 'error');
        request.log.error({ errCode: err.code, errName: err.name }, 'webhook failed unexpectedly');
        return sendProblem(reply, { status: 500, error: 'internal_error', message: 'The event could not be handled; please retry.' });
      });

      const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
        request.webhookReceivedAt = performance.now();
        const apiKey = (request.query as Record<string, unknown> | undefined)?.APIKey;
        if (!deps.authenticator.recentlyValid(apiKey)) {
          const failures = await authFailures(request, { increment: false });
          if (!failures.isAllowed && failures.remaining === 0) {
            count(request, 'auth_rate_limited');
            return sendProblem(
              reply,
              { status: 429, error: 'rate_limited', message: 'Too many failed authentications from this address; retry after the time given in Retry-After.' },
              failures.ttlInSeconds,
            );
          }
        }
        const auth = await deps.authenticator.authenticate(apiKey);
        if (!auth.ok) {
          if (auth.reason === 'unavailable') {
            count(request, 'unavailable');
            return sendProblem(reply, { status: 503, error: 'unavailable', message: 'The API key cannot be checked right now; please retry.' }, UNAVAILABLE_RETRY_AFTER_SECONDS);
          }
          const failures = await authFailures(request);
          if (!failures.isAllowed && failures.remaining === 0 && failures.isExceeded === false) {
            // The failure that used up the address's allowance: said once per window.
            request.log.warn({ remoteAddress: request.ip, limit: limits.authFailures, windowSeconds: limits.authFailureWindowMs / 1000 }, 'client address over its failed-authentication limit');
          }
          count(request, 'unauthorized');
          return sendProblem(reply, UNAUTHORIZED);
        }
        request.webhookKey = auth.key;
        request.webhookGrant = auth.grant;
        const usage = await perKey(request);
        if (!usage.isAllowed && usage.isExceeded) {
          count(request, 'rate_limited');
          return sendProblem(
            reply,
            { status: 429, error: 'rate_limited', message: 'Too many requests for this API key; retry after the time given in Retry-After.' },
            usage.ttlInSeconds,
          );
        }
      };

      const handler = async (request: FastifyRequest, reply: FastifyReply) => {
        const key = request.webhookKey;
        if (!key) return sendProblem(reply, UNAUTHORIZED);
        const query = (request.query ?? {}) as Record<string, unknown>;
        const source = validateSource(query.APISource);
        if (!source.ok) {
          count(request, 'invalid');
          return sendProblem(reply, source.problem);
        }
        if (request.body === undefined) {
          const hasType = request.headers['content-type'] !== undefined;
          count(request, hasType ? 'invalid' : 'unsupported_media_type');
          return hasType
            ? sendProblem(reply, { status: 400, error: 'invalid_body', message: 'The body is empty: it must hold the fields "eConomicAPIKey" and "number".' })
            : sendProblem(reply, UNSUPPORTED);
        }
        const input = validateBody(source.source, request.body);
        if (!input.ok) {
          count(request, 'invalid');
          return sendProblem(reply, input.problem);
        }
        const { value } = input;
        await deps.grants.record(key.tenantId, value.grantToken, request.webhookGrant);
        const accepted = await deps.ingestor.accept({
          tenantId: key.tenantId,
          tenant: key.tenant,
          source: value.source,
          number: value.number,
          oldNumber: value.oldNumber,
        });
        const logFields = { eventId: accepted.eventId, workflowId: accepted.workflowId, tenant: key.tenant, source: value.source, number: value.number, outcome: accepted.outcome };
        deps.metrics.webhookEvents.inc({ source: value.source, outcome: accepted.outcome });
        request.webhookLog = logFields;
        if (accepted.outcome === 'unavailable') {
          request.log.error(logFields, 'webhook event refused: could not be made durable');
          return sendProblem(reply, { status: 503, error: 'unavailable', message: 'The event could not be recorded right now; please retry.' }, UNAVAILABLE_RETRY_AFTER_SECONDS);
        }
        deps.metrics.acceptanceSeconds.observe((performance.now() - request.webhookReceivedAt) / 1000);
        return reply.code(202).send({ eventId: accepted.eventId, workflowId: accepted.workflowId });
      };

      for (const url of WEBHOOK_PATHS) scope.post(url, { onRequest: authenticate, config: { ownLogLine: true } }, handler);
    });
  };
}
