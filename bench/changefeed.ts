// The change feed's cost per commit (docs/change-feed.md), for `npm run bench` (scenario `changefeed`):
// the same entity store commits the same kind of change (an order with its customer, 5 lines, a new
// line text each time, so every commit is a real change) with the feed on and off, in alternating
// rounds of one run so drift in the machine's load hits both alike. With the feed, a LISTEN client is
// connected, so the NOTIFY is delivered. Measured sequentially (one writer: the added statements) and
// with 8 concurrent writers in one tenant (the per-tenant append lock serialises the tail of commits).
import postgres from 'postgres';
import { tenants } from '../src/db/schema';
import { createEntityStore } from '../src/store/entity-store';
import { customerRecord, documentRecord } from '../src/sync/entity-record';
import type { TestDatabase } from '../test/helpers/database';

export interface FeedCost {
  writers: number;
  commits: number;
  withFeedMs: number;
  withoutFeedMs: number;
}

export async function changeFeedCost(database: TestDatabase, options: { commitsPerRound: number; rounds: number; writers: number[] }): Promise<FeedCost[]> {
  const withFeed = createEntityStore(database.db);
  const withoutFeed = createEntityStore(database.db, { changeFeed: false });
  const listener = postgres(database.url, { max: 1, onnotice: () => {} });
  let heard = 0;
  await listener.listen('economic_changes', () => (heard += 1));
  let clock = Date.parse('2026-05-01T00:00:00Z');
  const results: FeedCost[] = [];
  try {
    for (const writers of options.writers) {
      const [tenant] = await database.db.insert(tenants).values({ name: `bench-feed-${writers}` }).returning();
      const tenantId = tenant!.id;
      const totals = { with: 0, without: 0 };
      let version = 0;
      const commitOne = async (store: typeof withFeed, writer: number, i: number) => {
        version += 1;
        const at = new Date((clock += 1000)).toISOString();
        const customerNumber = 1 + writer;
        const number = 1000 + writer * 1000 + (i % 50);
        const customer = customerRecord({ customerNumber, name: `Kunde ${customerNumber}`, currency: 'DKK', lastUpdated: '2026-01-01T00:00:00Z' }, at);
        const lines = Array.from({ length: 5 }, (_, l) => ({ lineNumber: l + 1, description: `v${version} line ${l + 1}`, quantity: 1, unitNetPrice: 10 }));
        const order = documentRecord('order', number, { orderNumber: number, date: '2026-01-05', customer: { customerNumber }, currency: 'DKK', netAmount: 50, grossAmount: 62.5, lastUpdated: at, lines }, at, 'drafts');
        await store.commit(tenantId, [customer, order]);
      };
      const round = async (store: typeof withFeed) => {
        const perWriter = Math.ceil(options.commitsPerRound / writers);
        const t0 = performance.now();
        await Promise.all(Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < perWriter; i += 1) await commitOne(store, w, i);
        }));
        return performance.now() - t0;
      };
      // Warm up both paths (rows exist, plans cached), then alternate.
      await round(withFeed);
      await round(withoutFeed);
      for (let r = 0; r < options.rounds; r += 1) {
        if (r % 2 === 0) {
          totals.with += await round(withFeed);
          totals.without += await round(withoutFeed);
        } else {
          totals.without += await round(withoutFeed);
          totals.with += await round(withFeed);
        }
      }
      const commits = Math.ceil(options.commitsPerRound / writers) * writers * options.rounds;
      results.push({ writers, commits, withFeedMs: totals.with / commits, withoutFeedMs: totals.without / commits });
    }
  } finally {
    await listener.end({ timeout: 1 });
  }
  if (heard === 0) throw new Error('no notification arrived: the feed did not run');
  return results;
}
