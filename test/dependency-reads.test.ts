// How a sync reads the customer and project a document references (activities/resolve-dependencies.ts),
// against the fake e-conomic over HTTP and the real entity store: syncs running at once in one worker share
// a read in flight, so two orders of one new customer cost one customer call; a shared read that failed
// is read again by the sync that waited on it; a document's customer and project are read at once, and
// whatever order their answers come in, a project's customer is committed before the project.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { recordCandidate } from '../src/access/grants';
import { tenants } from '../src/db/schema';
import { CallCounter } from '../src/economic';
import { createSecretBox } from '../src/secrets/secret-box';
import { createEntityStore, type EntityStore } from '../src/store/entity-store';
import type { EntityRecord } from '../src/sync/entity-record';
import { createEconomicAccess, type EconomicAccess, type EconomicSession } from '../activities/economic-access';
import { readEntity } from '../activities/fetch-entity';
import { resolveDependencies, sharedReads, type SharedReads } from '../activities/resolve-dependencies';
import { startFakeEconomic, type FakeAgreement, type FakeEconomic } from './fake-economic';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { gate } from './helpers/gate';
import { waitFor } from './helpers/wait';

let database: TestDatabase;
let fake: FakeEconomic;
let store: EntityStore;
let access: EconomicAccess;
const secretBox = createSecretBox(randomBytes(32));

before(async () => {
  [database, fake] = await Promise.all([createTestDatabase(), startFakeEconomic({ logCalls: true, clockStart: 'wall' })]);
  store = createEntityStore(database.db);
  access = createEconomicAccess({
    db: database.db,
    secretBox,
    economic: { restUrl: fake.restUrl, projectsUrl: fake.projectsUrl, appSecretToken: fake.appSecretToken, timeoutMs: 5000 },
    callCounter: new CallCounter(),
    log: () => {},
  });
});

after(async () => {
  await Promise.allSettled([database?.drop(), fake?.close()]);
});

interface Tenant {
  id: number;
  grant: string;
  agreement: FakeAgreement;
  session: EconomicSession;
}

async function tenantWithSession(name: string): Promise<Tenant> {
  const grant = `grant-${randomBytes(12).toString('hex')}`;
  const agreement = fake.addAgreement({ grantToken: grant, companyName: `${name} ApS` });
  const [row] = await database.db.insert(tenants).values({ name }).returning();
  if (!row) throw new Error('tenant not created');
  // The grant a webhook brought: verified with GET /self when the session opens.
  await recordCandidate(database.db, secretBox, row.id, grant);
  const session = await access.open({ tenantId: row.id, tenant: name });
  return { id: row.id, grant, agreement, session };
}

/** The shared reads, counting the syncs that asked: a held answer is let go once both wait on it. */
function counted(reads: SharedReads): { reads: SharedReads; asked: () => number } {
  let asked = 0;
  return {
    reads: {
      read(tenantId, key, load) {
        asked += 1;
        return reads.read(tenantId, key, load);
      },
    },
    asked: () => asked,
  };
}

const callsTo = (grant: string, path: string) => fake.callLog.filter((c) => c.agreement === grant && c.path === path);

async function orderRecord(t: Tenant, order: number): Promise<EntityRecord> {
  const record = await readEntity(t.session.client, store, t.id, 'order', order, new Date().toISOString());
  if (!record) throw new Error(`order ${order} not found`);
  return record;
}

/** A new customer in e-conomic (not stored) and two orders of it, fetched as a sync would have them. */
async function twoOrdersOfNewCustomer(t: Tenant, name: string): Promise<{ customer: number; records: [EntityRecord, EntityRecord] }> {
  const customer = t.agreement.upsertCustomer({ name });
  const [a, b] = [t.agreement.createOrder({ customerNumber: customer }), t.agreement.createOrder({ customerNumber: customer })];
  return { customer, records: [await orderRecord(t, a), await orderRecord(t, b)] };
}

test('two orders of one new customer, resolved at once, cost one customer call; each gets its own copy', async () => {
  const t = await tenantWithSession('shared-read');
  const {
    customer,
    records: [recordA, recordB],
  } = await twoOrdersOfNewCustomer(t, 'Fælles Kunde A/S');
  const held = gate();
  fake.faults.inject({ agreement: t.grant, path: `/customers/${customer}`, times: 1, kind: 'held', until: held.until });
  const shared = counted(sharedReads());

  const resolving = [recordA, recordB].map((record) => resolveDependencies(t.session, store, t.id, record, { shared: shared.reads }));
  await waitFor('both syncs to ask for the customer', () => shared.asked() === 2);
  held.release();
  const [resolvedA, resolvedB] = await Promise.all(resolving);

  assert.equal(callsTo(t.grant, `/customers/${customer}`).length, 1);
  assert.deepEqual(resolvedA?.records.map((r) => `${r.kind} ${r.number}`), [`customer ${customer}`]);
  assert.deepEqual(resolvedB?.records, resolvedA?.records);
  assert.notEqual(resolvedB?.records[0], resolvedA?.records[0], 'each sync commits its own copy of the record');

  // Settled reads are not kept: the next sync that needs the customer (still not stored) reads it again.
  await resolveDependencies(t.session, store, t.id, recordA, { shared: shared.reads });
  assert.equal(callsTo(t.grant, `/customers/${customer}`).length, 2);
});

test('a shared read that failed is read again by the sync that waited on it', async () => {
  const t = await tenantWithSession('shared-read-fails');
  const {
    customer,
    records: [recordA, recordB],
  } = await twoOrdersOfNewCustomer(t, 'Ustabil Kunde ApS');
  const held = gate();
  // The first customer call is answered 500 once released; the waiting sync's own call then succeeds.
  fake.faults.inject({ agreement: t.grant, path: `/customers/${customer}`, times: 1, kind: 'held', until: held.until, thenKind: '500' });
  const shared = counted(sharedReads());

  // The first sync asks first, so its read is the one shared (each reads the store before it asks, in
  // either order when both start together).
  const first = resolveDependencies(t.session, store, t.id, recordA, { shared: shared.reads });
  first.catch(() => undefined);
  await waitFor('the first sync to ask for the customer', () => shared.asked() === 1);
  const second = resolveDependencies(t.session, store, t.id, recordB, { shared: shared.reads });
  await waitFor('the second sync to ask for it too', () => shared.asked() === 2);
  held.release();

  await assert.rejects(first, /500|e-conomic/i);
  const resolved = await second;
  assert.deepEqual(resolved.records.map((r) => `${r.kind} ${r.number}`), [`customer ${customer}`]);
  assert.deepEqual(callsTo(t.grant, `/customers/${customer}`).map((c) => c.status), [500, 200]);
});

test("a document's customer and project are read at once; the project's customer is still committed first", async () => {
  const t = await tenantWithSession('parallel-read');
  const documentCustomer = t.agreement.upsertCustomer({ name: 'Bestiller ApS' });
  const projectCustomer = t.agreement.upsertCustomer({ name: 'Bygherre A/S' });
  const project = t.agreement.upsertProject({ name: 'Nybyggeri', customerNumber: projectCustomer });
  const order = t.agreement.createOrder({ customerNumber: documentCustomer, projectNumber: project });
  const record = await orderRecord(t, order);
  const held = gate();
  fake.faults.inject({ agreement: t.grant, path: `/customers/${documentCustomer}`, times: 1, kind: 'held', until: held.until });

  const resolving = resolveDependencies(t.session, store, t.id, record, { shared: sharedReads() });
  // The project and its own customer are answered while the document's customer is still held: read at once.
  await waitFor('the project and its customer answered', () => callsTo(t.grant, `/customers/${projectCustomer}`).some((c) => c.status === 200));
  assert.equal(callsTo(t.grant, `/customers/${documentCustomer}`).length, 1);
  held.release();
  const resolved = await resolving;

  assert.deepEqual(
    resolved.records.map((r) => `${r.kind} ${r.number}`),
    [`customer ${projectCustomer}`, `customer ${documentCustomer}`, `project ${project}`],
  );
  // The foreign keys hold in one transaction in that order.
  const outcomes = await store.commit(t.id, [...resolved.records, record]);
  assert.deepEqual(outcomes, ['written', 'written', 'written', 'written']);
});
