// Reads e-conomic's two error body shapes into one: the legacy REST's JSON (`message`, `developerHint`,
// `logId`, `errorCode`) and the Projects API's `application/problem+json` (`title`, `detail`, `errors[]`,
// `traceId`, `errorCode`), as docs/economic-api.md describes them. Anything else (HTML from a proxy, an
// empty body) yields nothing: the status alone then classifies the error.

/** The Projects API's errorCode for an agreement lacking a module (title "Missing modules: Project"). */
export const MISSING_MODULES_ERROR_CODE = 'AccessDeniedAgreementMissingModules';

export interface ErrorBody {
  /** Human-readable summary, at most 500 characters; empty when the body said nothing usable. */
  text: string;
  logId?: string;
  traceId?: string;
  errorCode?: string;
  /** Set when the body says the agreement lacks a module: its name, e.g. `Project`. */
  missingModule?: string;
}

type Json = Record<string, unknown>;

const str = (v: unknown, max = 200): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : undefined);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isProblem(body: Json): boolean {
  return typeof body.title === 'string' || typeof body.traceId === 'string' || (typeof body.type === 'string' && 'status' in body);
}

/** `errors: [{message, errorCode, property}]` of a problem+json body. */
function problemErrors(body: Json): Json[] {
  return Array.isArray(body.errors) ? body.errors.filter(isObject) : [];
}

function missingModuleOf(body: Json, errorCode: string | undefined, entries: Json[]): string | undefined {
  const title = str(body.title) ?? '';
  const named = /^Missing modules?:\s*(.+)$/i.exec(title)?.[1]?.trim();
  const coded = errorCode === MISSING_MODULES_ERROR_CODE || entries.some((e) => e.errorCode === MISSING_MODULES_ERROR_CODE);
  if (named) return named;
  return coded ? 'unknown' : undefined;
}

export function readErrorBody(text: string): ErrorBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { text: '' };
  }
  if (!isObject(parsed)) return { text: '' };
  const body = parsed;
  const errorCode = str(body.errorCode);
  const out: ErrorBody = { text: '' };
  if (errorCode !== undefined) out.errorCode = errorCode;

  if (isProblem(body)) {
    const entries = problemErrors(body);
    const title = str(body.title, 300);
    const detail = str(body.detail, 300);
    const perField = entries
      .slice(0, 3)
      .map((e) => [str(e.property, 60), str(e.message, 200)].filter(Boolean).join(': '))
      .filter((s) => s !== '');
    out.text = [title, detail !== title ? detail : undefined, perField.length > 0 ? `(${perField.join('; ')})` : undefined]
      .filter(Boolean)
      .join(' ')
      .slice(0, 500);
    const traceId = str(body.traceId);
    if (traceId !== undefined) out.traceId = traceId;
    const missingModule = missingModuleOf(body, errorCode, entries);
    if (missingModule !== undefined) out.missingModule = missingModule;
    return out;
  }

  const message = str(body.message, 300);
  const hint = str(body.developerHint, 300);
  out.text = [message, hint !== undefined && hint !== message ? `(${hint})` : undefined].filter(Boolean).join(' ').slice(0, 500);
  const logId = str(body.logId);
  if (logId !== undefined) out.logId = logId;
  return out;
}
