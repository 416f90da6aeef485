// Signing of outbound change webhooks, the way Stripe and Svix sign (docs/change-feed.md): the header
// `Economic-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The timestamp is
// inside the MAC, so a receiver rejects a replayed request by its age and a forged one by its MAC.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new signing secret, shown once to the operator: `whsec_` and 32 random bytes. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'malformed' | 'mismatch' | 'too-old' };

/**
 * The receiver's check: the MAC over the raw body must match, and the timestamp be within `toleranceSec`
 * of the receiver's clock (5 minutes, as Stripe does). Any `v1=` entry may match (secret rotation).
 */
export function verifySignature(secret: string, header: string | undefined, body: string, nowUnixSeconds: number, toleranceSec = 300): VerifyResult {
  if (!header) return { ok: false, reason: 'malformed' };
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  const macs = parts.filter(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/.test(v)).map(([, v]) => Buffer.from(v!, 'hex'));
  if (!Number.isSafeInteger(t) || macs.length === 0) return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  if (!macs.some((mac) => timingSafeEqual(mac, expected))) return { ok: false, reason: 'mismatch' };
  if (Math.abs(nowUnixSeconds - t) > toleranceSec) return { ok: false, reason: 'too-old' };
  return { ok: true };
}
