// Sends e-conomic-style webhooks: one HTTP POST per record, with the body template's placeholders
// substituted, JSON or form-encoded, with bounded concurrency and optional (seeded) shuffling.

import http from 'node:http';
import https from 'node:https';

export interface WebhookRecord {
  number: number;
  oldNumber?: number;
}

export interface EmitWebhooksOptions {
  url: string;
  records: readonly WebhookRecord[];
  /** e.g. `{"eConomicAPIKey":"X","number":"[NEWNUMBER]"}`; placeholders [NEWNUMBER], [OLDNUMBER], [INVOICENO]. */
  template: string;
  contentType: 'json' | 'form';
  concurrency: number;
  /** Send in a random order (seeded, default seed 1). Results stay aligned with `records`. */
  shuffle?: boolean | { seed: number };
  timeoutMs?: number;
}

export interface WebhookResult {
  record: WebhookRecord;
  /** HTTP status, or 0 when the request failed without one. */
  status: number;
  body: string;
  error?: string;
  /** When the answer (or the failure) arrived, in ms since the first request was sent. */
  answeredMs: number;
}

export interface EmitWebhooksResult {
  /** Status per record, in the order of `records`. */
  statuses: number[];
  results: WebhookResult[];
  /** Indices of `records` in the order they were sent. */
  sendOrder: number[];
  durationMs: number;
}

export function substitute(template: string, r: WebhookRecord): string {
  return template
    .split('[NEWNUMBER]').join(String(r.number))
    .split('[INVOICENO]').join(String(r.number))
    .split('[OLDNUMBER]').join(String(r.oldNumber ?? r.number));
}

/** The request body: JSON as typed; form: the JSON template's fields form-encoded (or the text as typed). */
export function encodeBody(template: string, r: WebhookRecord, contentType: 'json' | 'form'): { body: string; type: string } {
  const text = substitute(template, r);
  if (contentType === 'json') return { body: text, type: 'application/json' };
  let body = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      body = new URLSearchParams(Object.entries(parsed as Record<string, unknown>).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString();
    }
  } catch {
    // Not JSON: send as typed.
  }
  return { body, type: 'application/x-www-form-urlencoded' };
}

/** 0..n-1 in a seeded random order (the same seed gives the same order). */
export function shuffledIndices(n: number, seed: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  let a = seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  return idx;
}

export async function emitWebhooks(o: EmitWebhooksOptions): Promise<EmitWebhooksResult> {
  const started = Date.now();
  const t0 = performance.now();
  const url = new URL(o.url);
  const mod = url.protocol === 'https:' ? https : http;
  const concurrency = Math.max(1, Math.floor(o.concurrency));
  const agent = new mod.Agent({ keepAlive: true, maxSockets: concurrency });
  const order = o.shuffle
    ? shuffledIndices(o.records.length, typeof o.shuffle === 'object' ? o.shuffle.seed : 1)
    : o.records.map((_, i) => i);
  const results: WebhookResult[] = new Array<WebhookResult>(o.records.length);

  const sendOne = (record: WebhookRecord): Promise<WebhookResult> =>
    new Promise((settle) => {
      const resolve = (r: Omit<WebhookResult, 'answeredMs'>) => settle({ ...r, answeredMs: performance.now() - t0 });
      const { body, type } = encodeBody(o.template, record, o.contentType);
      const req = mod.request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) },
          timeout: o.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ record, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => resolve({ record, status: res.statusCode ?? 0, body: '', error: e.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve({ record, status: 0, body: '', error: e.message }));
      req.end(body);
    });

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < order.length) {
      const i = order[next++] as number;
      results[i] = await sendOne(o.records[i] as WebhookRecord);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, order.length) }, worker));
  } finally {
    agent.destroy();
  }
  return { statuses: results.map((r) => r.status), results, sendOrder: order, durationMs: Date.now() - started };
}
