// A tenant's first webhooks arrive together, each carrying its new grant token, so its first syncs start
// together (activities/economic-access.ts `open()`): one claims the token and verifies it with GET /self,
// and the others wait for that call instead of failing and being retried as failed activities: those of
// the same worker on the call itself, those of another worker by polling Postgres, up to a bound
// (docs/webhook.md, "The grant and the agreement"). Against the fake e-conomic over HTTP and real Postgres.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { recordCandidate } from '../src/access/grants';
import { tenants } from '../src/db/schema';
import { CallCounter } from '../src/economic';
import { createSecretBox } from '../src/secrets/secret-box';
import { FAILURE_TYPES } from '../src/shared/failure-types';
import { createEconomicAccess, type EconomicAccess, type TenantRef } from '../activities/economic-access';
import { startFakeEconomic, type FakeAgreement, type FakeEconomic } from './fake-economic';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { gate } from './helpers/gate';
import { registerSecret } from './helpers/test-logs';
import { waitFor } from './helpers/wait';

let database: TestDatabase;
let fake: FakeEconomic;
const secretBox = createSecretBox(randomBytes(32));
/** The debug lines of syncs that waited for another sync's verification, per worker. */
const waited = { worker: 0, otherWorker: 0 };
let worker: EconomicAccess;
let otherWorker: EconomicAccess;

function accessCounting(which: keyof typeof waited, verificationWaitMs?: number): EconomicAccess {
  return createEconomicAccess({
    db: database.db,
    verificationWaitMs,
    secretBox,
    economic: { restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: fake.appSecretToken, timeoutMs: 5000 },
    callCounter: new CallCounter(),
    log: (_level, message) => {
      if (message.startsWith('waiting for the new grant token')) waited[which] += 1;
    },
  });
}

before(async () => {
  [database, fake] = await Promise.all([createTestDatabase(), startFakeEconomic({ logCalls: true, clockStart: 'wall' })]);
  worker = accessCounting('worker');
  otherWorker = accessCounting('otherWorker');
});

after(async () => {
  await Promise.allSettled([database?.drop(), fake?.close()]);
});

/** A tenant whose first webhook brought a token: a candidate, no grant yet. */
async function newTenant(name: string): Promise<{ ref: TenantRef; grant: string; agreement: FakeAgreement }> {
  const grant = `grant-${randomBytes(12).toString('hex')}`;
  registerSecret('grant-token', grant);
  const agreement = fake.addAgreement({ grantToken: grant, companyName: `${name} ApS` });
  const [row] = await database.db.insert(tenants).values({ name }).returning();
  if (!row) throw new Error('tenant not created');
  await recordCandidate(database.db, secretBox, row.id, grant);
  return { ref: { tenantId: row.id, tenant: name }, grant, agreement };
}

const selfCalls = (grant: string) => fake.callLog.filter((c) => c.agreement === grant && c.path.endsWith('/self'));

function isTransient(err: unknown): boolean {
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, FAILURE_TYPES.transient);
  assert.equal(err.nonRetryable, false);
  return true;
}

test("syncs that open while a sync verifies the tenant's new token wait for that one GET /self, in its worker and in another", async () => {
  const t = await newTenant('first-burst');
  const held = gate();
  fake.faults.inject({ agreement: t.grant, path: '/self', times: 1, kind: 'held', until: held.until });
  const before = { ...waited };

  const verifying = worker.open(t.ref);
  await waitFor('the verification to reach e-conomic', () => selfCalls(t.grant).length === 1);
  const others = Array.from({ length: 4 }, () => worker.open(t.ref));
  const elsewhere = Array.from({ length: 2 }, () => otherWorker.open(t.ref));
  await waitFor('the four syncs of its worker to wait for it', () => waited.worker - before.worker === 4);
  await waitFor("the other worker's two syncs to wait for it", () => waited.otherWorker - before.otherWorker === 2);
  held.release();

  const sessions = await Promise.all([verifying, ...others, ...elsewhere]);
  for (const session of sessions) assert.equal(session.agreementNumber, t.agreement.agreementNumber);
  assert.equal(selfCalls(t.grant).length, 1, 'one GET /self for the seven syncs');
});

test("a sync of another worker waits for a verification only so long, then fails retryable; its retry finds the grant", async () => {
  const t = await newTenant('slow-verification');
  const held = gate();
  fake.faults.inject({ agreement: t.grant, path: '/self', times: 1, kind: 'held', until: held.until });
  const impatient = accessCounting('otherWorker', 200);

  const verifying = worker.open(t.ref);
  await waitFor('the verification to reach e-conomic', () => selfCalls(t.grant).length === 1);
  await assert.rejects(impatient.open(t.ref), isTransient);
  held.release();
  assert.equal((await verifying).agreementNumber, t.agreement.agreementNumber);
  assert.equal((await impatient.open(t.ref)).agreementNumber, t.agreement.agreementNumber);
  assert.equal(selfCalls(t.grant).length, 1);
});

test('syncs that waited for a verification e-conomic did not answer fail retryable, in either worker, and a retry verifies', async () => {
  const t = await newTenant('first-burst-fails');
  const held = gate();
  fake.faults.inject({ agreement: t.grant, path: '/self', times: 1, kind: 'held', until: held.until, thenKind: '503' });
  const before = { ...waited };

  const verifying = worker.open(t.ref);
  verifying.catch(() => undefined);
  await waitFor('the verification to reach e-conomic', () => selfCalls(t.grant).length === 1);
  const waiting = worker.open(t.ref);
  const elsewhere = otherWorker.open(t.ref);
  elsewhere.catch(() => undefined);
  await waitFor('the other syncs to wait for it', () => waited.worker - before.worker === 1 && waited.otherWorker - before.otherWorker === 1);
  held.release();

  // Not CredentialsMissing (which fails the entity's workflow for good): the token is still to be verified.
  await assert.rejects(verifying, isTransient);
  await assert.rejects(waiting, isTransient);
  await assert.rejects(elsewhere, isTransient);
  const retried = await worker.open(t.ref);
  assert.equal(retried.agreementNumber, t.agreement.agreementNumber);
  assert.deepEqual(selfCalls(t.grant).map((c) => c.status), [503, 200]);
});
