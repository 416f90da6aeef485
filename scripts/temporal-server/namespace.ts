// Makes a started cluster ready for economic-sync with the Temporal CLI: waits until `temporal operator
// cluster health` says SERVING, creates the namespace when missing (`temporal operator namespace create`)
// and registers the search attributes of docs/temporal.md, then waits until the namespace lists them.
// Every step is idempotent: run it again after an upgrade or on a cluster someone else set up.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TypedSearchAttributes } from '@temporalio/common';
import { ALL_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';

const execFileAsync = promisify(execFile);

export interface NamespaceOptions {
  cli: string;
  address: string;
  namespace: string;
  /** How long closed workflows stay visible, e.g. "72h" (docs/operations.md). */
  retention: string;
  timeoutMs: number;
}

async function temporal(cli: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(cli, args, { timeout: 30_000 });
    return { ok: true, out: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

async function until(what: string, timeoutMs: number, attempt: () => Promise<{ ok: boolean; out: string }>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const result = await attempt();
    if (result.ok) return;
    last = result.out.trim();
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000} s: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function prepareNamespace(options: NamespaceOptions, report: (line: string) => void): Promise<void> {
  const { cli, address, namespace } = options;
  const at = ['--address', address];
  await until(`cluster health at ${address}`, options.timeoutMs, async () => {
    const result = await temporal(cli, ['operator', 'cluster', 'health', ...at]);
    return { ok: result.ok && /SERVING/.test(result.out) && !/NOT_SERVING/.test(result.out), out: result.out };
  });
  report(`cluster at ${address} is SERVING`);

  const described = await temporal(cli, ['operator', 'namespace', 'describe', '--namespace', namespace, ...at]);
  if (!described.ok) {
    const created = await temporal(cli, ['operator', 'namespace', 'create', '--namespace', namespace, '--retention', options.retention, ...at]);
    if (!created.ok && !/already (exists|registered)/i.test(created.out)) throw new Error(`namespace create ${namespace}: ${created.out.trim()}`);
    report(`namespace ${namespace} created (retention ${options.retention})`);
  }

  // A namespace just created takes a moment to reach every frontend: retry until it accepts them.
  for (const key of ALL_SEARCH_ATTRIBUTES) {
    const type = TypedSearchAttributes.toMetadataType(key.type);
    await until(`search attribute ${key.name}`, options.timeoutMs, async () => {
      const result = await temporal(cli, ['operator', 'search-attribute', 'create', '--namespace', namespace, '--name', key.name, '--type', type, ...at]);
      return { ok: result.ok || /already exists/i.test(result.out), out: result.out };
    });
  }
  await until(`search attributes listed in ${namespace}`, options.timeoutMs, async () => {
    const result = await temporal(cli, ['operator', 'search-attribute', 'list', '--namespace', namespace, '--output', 'json', ...at]);
    return { ok: result.ok && ALL_SEARCH_ATTRIBUTES.every((key) => result.out.includes(`"${key.name}"`)), out: result.out };
  });
  report(`namespace ${namespace} ready with search attributes ${ALL_SEARCH_ATTRIBUTES.map((k) => k.name).join(', ')}`);
}
