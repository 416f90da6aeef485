// createApiKey for tests: the real one (src/access/api-keys.ts), with the new key registered for the
// suite's no-secret-in-logs check (test/helpers/test-logs.ts).
import { createApiKey as create, type CreatedApiKey } from '../../src/access/api-keys';
import type { Database } from '../../src/db/client';
import { registerSecret } from './test-logs';

export async function createApiKey(db: Database, options: { tenant: string; description?: string }): Promise<CreatedApiKey> {
  const created = await create(db, options);
  registerSecret('api-key', created.key);
  return created;
}
