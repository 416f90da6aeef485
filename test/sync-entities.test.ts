// The per-entity sync workflow end to end on the real dev server, real Postgres and the fake
// e-conomic over HTTP: every kind lands in its table, dependencies first, and lifecycle moves
// (archive, booking, deletion, renumbering) leave the rows docs/database.md describes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq, sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client';
import {
  economicBookedInvoices,
  economicCustomers,
  economicDraftInvoices,
  economicOrders,
  economicProjects,
  economicQuotes,
  syncState,
} from '../src/db/schema';
import { historyText } from './helpers/history';
import { documentLines } from './helpers/rows';
import { startSyncHarness, type SyncHarness, type TestTenant } from './helpers/sync-harness';

let h: SyncHarness;
let acme: TestTenant;

before(async () => {
  h = await startSyncHarness();
  await h.startWorker();
  acme = await h.createTenant('acme');
});

after(async () => {
  await h?.close();
});

const lines = [
  { description: 'Rådgivning', productNumber: 'TIME', quantity: 7.5, unitNetPrice: 950 },
  { description: 'Kørsel', productNumber: 'KM', quantity: 42, unitNetPrice: 3.7 },
];

test('an order whose customer and project are unknown: fetched with it, committed customer, project, order', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Nordisk Tømrer ApS', currency: 'DKK' });
  const project = acme.agreement.upsertProject({ name: 'Tagrenovering', customerNumber: customer });
  const order = acme.agreement.createOrder({ customerNumber: customer, projectNumber: project, lines });
  h.fake.resetCalls();

  const handle = await h.signal(acme, 'order', order, { source: 'eConomicOrder' });
  const result = await handle.result();
  assert.equal(result.lastOutcome, 'synced');

  // The order first, then its customer and project, read at once (the project's customer is the order's).
  const paths = h.fake.callLog.filter((c) => c.agreement === acme.grantToken && c.path !== '/self').map((c) => c.path);
  assert.equal(paths[0], `/orders/drafts/${order}`);
  assert.deepEqual(paths.slice(1).sort(), [`/customers/${customer}`, `/projectsapi/v1.1.0/Projects/${project}`].sort());

  const [c] = await h.database.db.select().from(economicCustomers).where(eq(economicCustomers.customerNumber, customer));
  const [p] = await h.database.db.select().from(economicProjects).where(eq(economicProjects.projectNumber, project));
  const [o] = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, order));
  assert.equal(c?.name, 'Nordisk Tømrer ApS');
  assert.equal(p?.customerNumber, customer);
  assert.equal(o?.status, 'draft');
  assert.equal(o?.customerNumber, customer);
  assert.equal(o?.projectNumber, project);
  assert.equal(o?.currency, 'DKK');
  assert.equal(Number(o?.netAmount), 7.5 * 950 + 42 * 3.7);
  assert.ok(o?.lastUpdated instanceof Date);
  // One transaction wrote the customer, the project and the order (foreign keys held at each insert, so
  // the dependencies went first), and the sync's outcome with them.
  const xids = await queryRows<{ kind: string; xid: string }>(
    h.database.db,
    sql`select 'customer' as kind, xmin::text as xid from economic_customers where customer_number = ${customer}
        union all select 'project', xmin::text from economic_projects where project_number = ${project}
        union all select 'order', xmin::text from economic_orders where order_number = ${order}
        union all select 'sync_state', xmin::text from sync_state where kind = 'order' and number = ${order}`,
  );
  assert.equal(xids.length, 4);
  assert.equal(new Set(xids.map((x) => x.xid)).size, 1, `one transaction: ${JSON.stringify(xids)}`);

  const orderLines = await documentLines(h.database.db, acme.id, 'order', order);
  assert.deepEqual(
    orderLines.map((l) => [l.lineNumber, l.description, l.productNumber, Number(l.quantity), Number(l.unitNetPrice)]),
    [
      [1, 'Rådgivning', 'TIME', 7.5, 950],
      [2, 'Kørsel', 'KM', 42, 3.7],
    ],
  );
  const [state] = await h.database.db.select().from(syncState).where(and(eq(syncState.kind, 'order'), eq(syncState.number, order)));
  assert.equal(state?.lastOutcome, 'synced');
});

test('quotes, draft invoices, booked invoices and projects land in their tables', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Fjordhuset A/S', currency: 'EUR' });
  const project = acme.agreement.upsertProject({ name: 'Ombygning', customerNumber: customer });
  const quote = acme.agreement.createQuote({ customerNumber: customer, projectNumber: project, currency: 'EUR', lines });
  const draft = acme.agreement.createDraftInvoice({ customerNumber: customer, lines });
  const booked = acme.agreement.createBookedInvoice({ customerNumber: customer, projectNumber: project, lines });
  acme.agreement.payInvoice(booked, 1000);
  const project2 = acme.agreement.upsertProject({ name: 'Udestue', customerNumber: customer, isClosed: true });

  const handles = await Promise.all([
    h.signal(acme, 'quote', quote, { source: 'eConomicOffer' }),
    h.signal(acme, 'draft-invoice', draft, { source: 'eConomicInvoiceDraft' }),
    h.signal(acme, 'booked-invoice', booked, { source: 'eConomicInvoicePosted' }),
    h.signal(acme, 'project', project2, { source: 'eConomicProject' }),
  ]);
  for (const handle of handles) assert.equal((await handle.result()).lastOutcome, 'synced');

  const [q] = await h.database.db.select().from(economicQuotes).where(eq(economicQuotes.quoteNumber, quote));
  assert.equal(q?.status, 'draft');
  assert.equal(q?.currency, 'EUR');
  const [d] = await h.database.db.select().from(economicDraftInvoices).where(eq(economicDraftInvoices.draftInvoiceNumber, draft));
  assert.equal(d?.customerNumber, customer);
  assert.equal(d?.projectNumber, null);
  const [b] = await h.database.db.select().from(economicBookedInvoices).where(eq(economicBookedInvoices.bookedInvoiceNumber, booked));
  assert.equal(Number(b?.remainder), Number(b?.grossAmount) - 1000);
  assert.equal(b?.lastUpdated, null, 'booked invoices carry no lastUpdated');
  const [p2] = await h.database.db.select().from(economicProjects).where(eq(economicProjects.projectNumber, project2));
  assert.equal(p2?.isClosed, true);
  const lineCount = await documentLines(h.database.db, acme.id, 'booked_invoice', booked);
  assert.equal(lineCount.length, 2);
});

test('an order sent and archived moves status; lines are replaced with the document', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Skovgaard VVS', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines });
  await (await h.signal(acme, 'order', order)).result();

  acme.agreement.updateOrder(order, { lines: [{ description: 'Kun én linje', quantity: 1, unitNetPrice: 100 }] });
  acme.agreement.sendOrder(order);
  await (await h.signal(acme, 'order', order)).result();
  let [o] = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, order));
  assert.equal(o?.status, 'sent');
  const after1 = await documentLines(h.database.db, acme.id, 'order', order);
  assert.deepEqual(after1.map((l) => l.description), ['Kun én linje']);

  acme.agreement.archiveOrder(order);
  await (await h.signal(acme, 'order', order)).result();
  [o] = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, order));
  assert.equal(o?.status, 'archived');
  assert.equal(o?.deletedAt, null);
});

test('booking a draft invoice: the draft row gets deleted_at, the booked invoice appears', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Bogholderiet', currency: 'DKK' });
  const draft = acme.agreement.createDraftInvoice({ customerNumber: customer, lines });
  const otherDraft = acme.agreement.createDraftInvoice({ customerNumber: customer, lines: [{ description: 'Andet', quantity: 1, unitNetPrice: 99 }] });
  await (await h.signal(acme, 'draft-invoice', draft)).result();
  await (await h.signal(acme, 'draft-invoice', otherDraft)).result();

  const booked = acme.agreement.bookDraftInvoice(draft);
  h.fake.resetCalls();
  await (await h.signal(acme, 'booked-invoice', booked, { source: 'eConomicInvoicePosted' })).result();
  // Only the draft with the booked invoice's amount was looked up again, not the customer's other draft.
  const draftLookups = h.fake.callLog.filter((c) => c.agreement === acme.grantToken && c.path.startsWith('/invoices/drafts/')).map((c) => c.path);
  assert.deepEqual(draftLookups, [`/invoices/drafts/${draft}`]);

  const [d] = await h.database.db.select().from(economicDraftInvoices).where(eq(economicDraftInvoices.draftInvoiceNumber, draft));
  assert.ok(d?.deletedAt instanceof Date, 'draft marked deleted');
  const [b] = await h.database.db.select().from(economicBookedInvoices).where(eq(economicBookedInvoices.bookedInvoiceNumber, booked));
  assert.equal(b?.customerNumber, customer);
  assert.equal(b?.deletedAt, null);
});

test('an entity deleted in e-conomic gets deleted_at and keeps its row', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Kortvarig Kunde', currency: 'DKK' });
  const quote = acme.agreement.createQuote({ customerNumber: customer, lines });
  await (await h.signal(acme, 'quote', quote)).result();
  acme.agreement.deleteQuote(quote);
  const result = await (await h.signal(acme, 'quote', quote)).result();
  assert.equal(result.lastOutcome, 'deleted');
  const [q] = await h.database.db.select().from(economicQuotes).where(eq(economicQuotes.quoteNumber, quote));
  assert.ok(q?.deletedAt instanceof Date);
  const qLines = await documentLines(h.database.db, acme.id, 'quote', quote);
  assert.ok(qLines.length > 0 && qLines.every((l) => l.deletedAt instanceof Date));
  const [state] = await h.database.db.select().from(syncState).where(and(eq(syncState.kind, 'quote'), eq(syncState.number, quote)));
  assert.equal(state?.lastOutcome, 'deleted');
});

test('a renumbered order moves its row and lines to the new number', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Omnummer ApS', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines });
  await (await h.signal(acme, 'order', order)).result();
  const renumbered = order + 5000;
  acme.agreement.renumberOrder(order, renumbered);
  await (await h.signal(acme, 'order', renumbered, { oldNumber: order })).result();

  const old = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, order));
  assert.equal(old.length, 0, 'the row moved');
  const [moved] = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, renumbered));
  assert.equal(moved?.customerNumber, customer);
  const movedLines = await documentLines(h.database.db, acme.id, 'order', renumbered);
  assert.equal(movedLines.length, 2);
});

test('a state hint (from a reconciliation listing) finds an archived order in one call', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Arkivet', currency: 'DKK' });
  const order = acme.agreement.createOrder({ customerNumber: customer, lines });
  acme.agreement.sendOrder(order);
  acme.agreement.archiveOrder(order);
  h.fake.resetCalls();
  const handle = await h.signal(acme, 'order', order, { source: 'reconcile', stateHint: 'archived' });
  assert.equal((await handle.result()).lastOutcome, 'synced');
  const orderCalls = h.fake.callLog.filter((c) => c.agreement === acme.grantToken && c.path.startsWith('/orders/')).map((c) => c.path);
  assert.deepEqual(orderCalls, [`/orders/archived/${order}`]);
  const [o] = await h.database.db.select().from(economicOrders).where(eq(economicOrders.orderNumber, order));
  assert.equal(o?.status, 'archived');
});

test('a 3,000-line order syncs, and none of its data enters the workflow history', async () => {
  const customer = acme.agreement.upsertCustomer({ name: 'Storkunde A/S', currency: 'DKK' });
  const many = Array.from({ length: 3000 }, (_, i) => ({ description: `Linje ${i + 1}: ${'montage '.repeat(12)}`, productNumber: 'TIME', quantity: 1, unitNetPrice: 10 }));
  const order = acme.agreement.createOrder({ customerNumber: customer, lines: many });
  const handle = await h.signal(acme, 'order', order, { source: 'eConomicOrder' });
  assert.equal((await handle.result()).lastOutcome, 'synced');

  const stored = await documentLines(h.database.db, acme.id, 'order', order);
  assert.equal(stored.length, 3000);
  assert.equal(stored[2999]?.description, many[2999]?.description);
  const history = await historyText(h.temporal.env.client, handle.workflowId);
  assert.ok(!history.includes('Linje 1:'), 'no line in the history');
  assert.ok(!history.includes('Storkunde'), 'no customer data in the history');
  // The order alone is ~600 KB of JSON; what the history holds is ids, names and outcomes.
  assert.ok(history.length < 30_000, `the history holds ${history.length} characters`);
});
