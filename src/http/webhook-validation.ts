// Validation of one webhook call (docs/webhook.md): the APISource query parameter and the body, with an
// answer that names the field. Never echoes a value that could be a secret.
import { API_SOURCES, isApiSource, type ApiSource } from '../shared/entities';
import { isTokenText } from '../util/token-text';
import type { Problem } from './problem';

export interface WebhookInput {
  source: ApiSource;
  grantToken: string;
  number: number;
  oldNumber?: number;
}

export type WebhookProblem = Problem;

export type Validation = { ok: true; value: WebhookInput } | { ok: false; problem: WebhookProblem };

/** e-conomic numbers are 32-bit integers (and so are our columns). */
export const MAX_ENTITY_NUMBER = 2_147_483_647;
const MAX_GRANT_LENGTH = 2048;
const PLACEHOLDER = /^\s*\[[A-Za-z_]+\]\s*$/;

const bad = (error: string, message: string): Validation => ({ ok: false, problem: { status: 400, error, message } });

export function validateSource(value: unknown): { ok: true; source: ApiSource } | { ok: false; problem: WebhookProblem } {
  if (isApiSource(value)) return { ok: true, source: value };
  const message =
    value === undefined || value === ''
      ? `The APISource query parameter is missing; it must be one of ${API_SOURCES.join(', ')}.`
      : `The APISource query parameter is not one e-conomic sends; it must be one of ${API_SOURCES.join(', ')}.`;
  return { ok: false, problem: { status: 400, error: 'invalid_api_source', message } };
}

function parseNumber(field: 'number' | 'oldNumber', value: unknown): { ok: true; value: number } | { ok: false; validation: Validation } {
  if (typeof value === 'string' && PLACEHOLDER.test(value)) {
    return {
      ok: false,
      validation: bad(
        'unsubstituted_placeholder',
        `The field "${field}" holds a placeholder e-conomic did not fill in: the webhook's "Sent data" in e-conomic is wrong. Use {"eConomicAPIKey":"<grant token>","number":"[NEWNUMBER]"} (for "Invoice booked": "[INVOICENO]").`,
      ),
    };
  }
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d{1,12}\s*$/.test(value)) n = Number(value.trim());
  if (n === undefined || !Number.isSafeInteger(n) || n < 1 || n > MAX_ENTITY_NUMBER) {
    return {
      ok: false,
      validation: bad(`invalid_${field === 'number' ? 'number' : 'old_number'}`, `The field "${field}" must be a positive whole number (at most ${MAX_ENTITY_NUMBER}).`),
    };
  }
  return { ok: true, value: n };
}

export function validateBody(source: ApiSource, body: unknown): Validation {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return bad('invalid_body', 'The body must be a JSON object (or a form) with the fields "eConomicAPIKey" and "number".');
  }
  const fields = body as Record<string, unknown>;
  const grant = fields.eConomicAPIKey;
  if (grant === undefined || grant === null || grant === '') {
    return bad('missing_economic_api_key', 'The field "eConomicAPIKey" (the agreement grant token) is missing from the body.');
  }
  if (typeof grant !== 'string' || grant.length > MAX_GRANT_LENGTH) {
    return bad('invalid_economic_api_key', 'The field "eConomicAPIKey" must be the agreement grant token, as text.');
  }
  if (PLACEHOLDER.test(grant)) {
    return bad(
      'unsubstituted_placeholder',
      'The field "eConomicAPIKey" holds a placeholder instead of the agreement grant token: the webhook\'s "Sent data" in e-conomic is wrong.',
    );
  }
  // It travels in a header on every e-conomic call: a space, line break or NUL would make each one fail.
  if (!isTokenText(grant)) {
    return bad(
      'invalid_economic_api_key',
      'The field "eConomicAPIKey" must be the agreement grant token: printable ASCII characters without spaces or line breaks. Check the webhook\'s "Sent data" in e-conomic.',
    );
  }
  if (fields.number === undefined || fields.number === null || fields.number === '') {
    return bad('missing_number', 'The field "number" is missing from the body; e-conomic fills it in from "[NEWNUMBER]" (or "[INVOICENO]").');
  }
  const number = parseNumber('number', fields.number);
  if (!number.ok) return number.validation;
  const value: WebhookInput = { source, grantToken: grant, number: number.value };
  const old = fields.oldNumber;
  if (old !== undefined && old !== null && old !== '') {
    const oldNumber = parseNumber('oldNumber', old);
    if (!oldNumber.ok) return oldNumber.validation;
    if (oldNumber.value !== number.value) value.oldNumber = oldNumber.value;
  }
  return { ok: true, value };
}
