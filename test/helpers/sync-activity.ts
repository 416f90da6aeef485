// One tenant whose syncs run the real `syncEntity` activity directly (MockActivityEnvironment, no worker):
// its own agreement in the fake e-conomic, its grant token waiting as a candidate (the first sync
// verifies it), and the sync activities built on the database a test gives (a counting one, say).
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createSyncActivities } from '../../activities';
import type { SyncCommitted, SyncEntityInput, SyncEntityResult } from '../../activities/sync-entity';
import { recordCandidate } from '../../src/access/grants';
import type { Database } from '../../src/db/client';
import { tenants } from '../../src/db/schema';
import { CallCounter } from '../../src/economic';
import { createSecretBox } from '../../src/secrets/secret-box';
import type { FakeAgreement, FakeEconomic } from '../fake-economic';
import { registerSecret } from './test-logs';

export interface SyncActivityTenant {
  id: number;
  name: string;
  agreement: FakeAgreement;
  grantToken: string;
  /** One sync of this tenant's entity, as the entity workflow would run it. */
  syncEntity(input: Omit<SyncEntityInput, 'tenantId' | 'tenant'>): Promise<SyncEntityResult>;
}

export async function syncActivityTenant(options: {
  /** Where the activities read and write (the tenant's row is written through it too). */
  db: Database;
  fake: FakeEconomic;
  name: string;
  companyName: string;
  onSyncCommitted?: SyncCommitted;
}): Promise<SyncActivityTenant> {
  const { db, fake } = options;
  const secretBox = createSecretBox(randomBytes(32));
  const activities = createSyncActivities({
    db,
    secretBox,
    callCounter: new CallCounter(),
    economic: { restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: fake.appSecretToken, timeoutMs: 2000 },
    onSyncCommitted: options.onSyncCommitted,
  });
  const grantToken = `grant-${randomBytes(12).toString('hex')}`;
  registerSecret('grant-token', grantToken);
  const agreement = fake.addAgreement({ grantToken, companyName: options.companyName });
  const [row] = await db.insert(tenants).values({ name: options.name }).returning();
  if (!row) throw new Error(`tenant ${options.name} was not created`);
  await recordCandidate(db, secretBox, row.id, grantToken);
  return {
    id: row.id,
    name: row.name,
    agreement,
    grantToken,
    syncEntity: (input) => new MockActivityEnvironment().run((i: SyncEntityInput) => activities.syncEntity(i), { tenantId: row.id, tenant: row.name, ...input }),
  };
}
