// Error answers of the fake, in the shape each API family uses (docs/economic-api.md): the legacy REST's
// JSON (`message`, `developerHint`, `logId`, `httpStatusCode`, `errors`) and the Projects API's
// `application/problem+json` (`title`, `detail`, `errors[]`, `traceId`, `errorCode`, `traceTimeUtc`).
// The errorCode values other than AccessDeniedAgreementMissingModules are the fake's own choice.

import { randomBytes, randomUUID } from 'node:crypto';

export interface HttpErrorOptions {
  /** Legacy `developerHint` / problem `detail`; defaults to the message. */
  hint?: string;
  errorCode?: string;
  /** The request property at fault (problem `errors[].property`, legacy `errors.<property>`). */
  property?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly options: HttpErrorOptions = {},
  ) {
    super(message);
  }
}

export const MISSING_MODULES_ERROR_CODE = 'AccessDeniedAgreementMissingModules';

const PROBLEM_CODES: Record<number, string> = {
  400: 'ValidationError',
  401: 'Unauthorized',
  403: 'AccessDenied',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  503: 'ServiceUnavailable',
};

export function legacyErrorBody(e: HttpError): Record<string, unknown> {
  const hint = e.options.hint ?? e.message;
  return {
    message: e.message,
    errorCode: e.options.errorCode ?? `E${e.status}00`,
    developerHint: hint,
    logId: randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase(),
    httpStatusCode: e.status,
    logTime: new Date().toISOString(),
    ...(e.options.property ? { errors: { [e.options.property]: { errors: [{ propertyName: e.options.property, errorMessage: hint }] } } } : {}),
  };
}

export function problemBody(e: HttpError, instance: string): Record<string, unknown> {
  const errorCode = e.options.errorCode ?? PROBLEM_CODES[e.status] ?? `Http${e.status}`;
  const detail = e.options.hint ?? e.message;
  return {
    type: `https://httpstatuses.io/${e.status}`,
    title: e.message,
    status: e.status,
    detail,
    instance,
    errors: e.options.property || e.options.errorCode ? [{ message: detail, errorCode, property: e.options.property ?? null }] : [],
    traceId: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`,
    errorCode,
    traceTimeUtc: new Date().toISOString(),
  };
}
