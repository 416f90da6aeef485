// Authenticated encryption (AES-256-GCM) of the customers' e-conomic grant tokens at rest, and a keyed
// fingerprint (HMAC-SHA-256) that tells "is this the grant we already store?" without decrypting.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDirectory } from '../util/private-dir';

const VERSION = 'v1';

export interface SecretBox {
  encrypt(plaintext: string): string;
  decrypt(ciphertext: string): string;
  fingerprint(plaintext: string): string;
}

export class SecretsKeyError extends Error {
  override name = 'SecretsKeyError';
}

/** Parses SECRETS_KEY: 32 bytes as base64 or hex. */
export function parseSecretsKey(raw: string): Buffer {
  const trimmed = raw.trim();
  const candidates = [/^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : undefined, Buffer.from(trimmed, 'base64')];
  const key = candidates.find((c) => c?.length === 32);
  if (!key) throw new SecretsKeyError('SECRETS_KEY must be 32 bytes, base64- or hex-encoded (e.g. `openssl rand -base64 32`)');
  return key;
}

/** SECRETS_KEY when set; otherwise a key generated once and kept (mode 0600) under DATA_DIR. */
export function loadSecretsKey(secretsKey: string | undefined, dataDir: string): Buffer {
  if (secretsKey) return parseSecretsKey(secretsKey);
  const file = path.join(dataDir, 'secrets.key');
  if (existsSync(file)) return parseSecretsKey(readFileSync(file, 'utf8'));
  ensurePrivateDirectory(dataDir);
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return key;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new SecretsKeyError('secret key must be 32 bytes');
  // Separate subkeys for encryption and fingerprinting.
  const encKey = createHmac('sha256', key).update('economic-sync/encrypt').digest();
  const macKey = createHmac('sha256', key).update('economic-sync/fingerprint').digest();
  return {
    encrypt(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, iv.toString('base64'), body.toString('base64'), cipher.getAuthTag().toString('base64')].join('.');
    },
    decrypt(ciphertext) {
      const [version, iv, body, tag] = ciphertext.split('.');
      if (version !== VERSION || !iv || body === undefined || !tag) throw new SecretsKeyError('stored secret has an unknown format');
      try {
        const decipher = createDecipheriv('aes-256-gcm', encKey, Buffer.from(iv, 'base64'));
        decipher.setAuthTag(Buffer.from(tag, 'base64'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
      } catch {
        // Never include the ciphertext or key material in the message.
        throw new SecretsKeyError('stored secret could not be decrypted: SECRETS_KEY differs from the one it was stored with');
      }
    },
    fingerprint(plaintext) {
      return createHmac('sha256', macKey).update(plaintext, 'utf8').digest('base64url');
    },
  };
}

/** Constant-time comparison of two strings (e.g. fingerprints or hashes). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
