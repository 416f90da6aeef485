// Greps a test run's log files (test/helpers/test-logs.ts, test/helpers/capture-output.mjs) for the
// secrets the run registered: each as written, in upper and lower case (API keys are accepted in any
// case), URL-encoded and as UTF-16. A leak is reported by file, line and kind, never with the secret itself.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { RegisteredSecret, SecretKind } from './test-logs';

export interface Leak {
  file: string;
  line: number;
  kind: SecretKind;
}

export interface ScanResult {
  leaks: Leak[];
  files: number;
  lines: number;
  secrets: number;
}

/** Shorter values would match by chance; tests register only long random secrets. */
const MIN_SECRET_LENGTH = 8;
const LOG_SUBDIRS = ['logs', 'output'];

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

export function readSecrets(runDir: string): RegisteredSecret[] {
  const unique = new Map<string, RegisteredSecret>();
  for (const file of filesUnder(path.join(runDir, 'secrets'))) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const secret = JSON.parse(line) as RegisteredSecret;
      if (secret.value.length >= MIN_SECRET_LENGTH) unique.set(secret.value, secret);
    }
  }
  return [...unique.values()];
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function scanForSecrets(runDir: string, secrets: RegisteredSecret[] = readSecrets(runDir)): ScanResult {
  const kindOf = new Map<string, SecretKind>();
  for (const secret of secrets) {
    // As written, URL-encoded, and as UTF-16 (how a test runner's serialized report holds a string with
    // any character beyond Latin-1), each in any case.
    const variants = [secret.value, encodeURIComponent(secret.value), Buffer.from(secret.value, 'utf16le').toString('latin1')];
    for (const variant of variants) kindOf.set(variant.toLowerCase(), secret.kind);
  }
  const pattern = kindOf.size > 0 ? new RegExp([...kindOf.keys()].map(escape).join('|'), 'gi') : undefined;
  const result: ScanResult = { leaks: [], files: 0, lines: 0, secrets: secrets.length };
  for (const file of LOG_SUBDIRS.flatMap((sub) => filesUnder(path.join(runDir, sub)))) {
    result.files += 1;
    // latin1 keeps every byte as one character: binary report frames cannot hide an ASCII secret.
    const lines = readFileSync(file, 'latin1').split('\n');
    result.lines += lines.length;
    if (!pattern) continue;
    lines.forEach((line, index) => {
      for (const match of line.matchAll(pattern)) {
        result.leaks.push({ file: path.relative(runDir, file), line: index + 1, kind: kindOf.get(match[0].toLowerCase()) ?? 'api-key' });
      }
    });
  }
  return result;
}
