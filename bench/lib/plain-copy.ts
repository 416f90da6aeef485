// The reconciliation baseline: what a plain script without Temporal would do to copy a tenant into
// Postgres: list every collection, then fetch each entity (collections carry no lines) and commit it,
// customers and projects before the documents that reference them, 20 at a time.
import type { Database } from '../../src/db/client';
import { createEconomicClient, type DocumentState, type EconomicClient } from '../../src/economic';
import type { EntityKind } from '../../src/shared/entities';
import { createEntityStore } from '../../src/store/entity-store';
import { eachLimited } from '../../src/util/each-limited';
import { readEntity } from '../../activities/fetch-entity';

export interface PlainCopyOptions {
  db: Database;
  tenantId: number;
  restUrl: string;
  projectsUrl: string;
  appSecretToken: string;
  grantToken: string;
  concurrency?: number;
}

interface Listed {
  kind: EntityKind;
  number: number;
  /** Orders and quotes: the state they were listed in, so fetching costs one call. */
  state?: DocumentState;
}

async function listNumbers(client: EconomicClient): Promise<Listed[]> {
  const refs: Listed[] = [];
  for await (const page of client.customers()) refs.push(...page.items.map((c) => ({ kind: 'customer' as const, number: c.customerNumber })));
  for await (const page of client.projects()) refs.push(...page.items.map((p) => ({ kind: 'project' as const, number: p.number })));
  for (const state of ['drafts', 'sent', 'archived'] as const) {
    for await (const page of client.orders(state)) refs.push(...page.items.map((d) => ({ kind: 'order' as const, number: d.orderNumber ?? 0, state })));
    for await (const page of client.quotes(state)) refs.push(...page.items.map((d) => ({ kind: 'quote' as const, number: d.quoteNumber ?? 0, state })));
  }
  for await (const page of client.draftInvoices()) refs.push(...page.items.map((d) => ({ kind: 'draft-invoice' as const, number: d.draftInvoiceNumber ?? 0 })));
  for await (const page of client.bookedInvoices()) refs.push(...page.items.map((d) => ({ kind: 'booked-invoice' as const, number: d.bookedInvoiceNumber })));
  return refs;
}

/** Copies the tenant; returns how many entities were committed. */
export async function plainCopy(o: PlainCopyOptions): Promise<number> {
  const client = createEconomicClient({ restUrl: o.restUrl, projectsUrl: o.projectsUrl, appSecretToken: o.appSecretToken, grantToken: o.grantToken });
  const refs = await listNumbers(client);
  const concurrency = o.concurrency ?? 20;
  const store = createEntityStore(o.db);
  let committed = 0;
  const copy = async (ref: Listed) => {
    const record = await readEntity(client, store, o.tenantId, ref.kind, ref.number, new Date().toISOString(), ref.state);
    if (record) {
      await store.commit(o.tenantId, [record]);
      committed += 1;
    }
  };
  // Dependencies first: customers, then projects, then documents.
  for (const kinds of [['customer'], ['project'], ['order', 'quote', 'draft-invoice', 'booked-invoice']]) {
    await eachLimited(refs.filter((r) => kinds.includes(r.kind)), concurrency, copy);
  }
  return committed;
}
