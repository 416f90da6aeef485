// Fills a fake agreement with realistic, deterministic data: projects reference customers, documents
// reference a customer and (mostly) a project. In memory only, fast enough for 100,000 documents.

import type { DocState, DocumentInput, FakeAgreementStore, LineInput } from './store';

export interface SeedOptions {
  customers?: number;
  projects?: number;
  ordersPerState?: number;
  quotesPerState?: number;
  draftInvoices?: number;
  bookedInvoices?: number;
  linesPerDocument?: number;
  /** PRNG seed, default 1. */
  seed?: number;
}

export interface SeedResult {
  customers: number[];
  projects: number[];
  orders: Record<DocState, number[]>;
  quotes: Record<DocState, number[]>;
  draftInvoices: number[];
  bookedInvoices: number[];
}

const CURRENCIES = ['DKK', 'DKK', 'DKK', 'EUR', 'SEK', 'NOK'];
const RATES: Record<string, number> = { DKK: 100, EUR: 746.05, SEK: 64.2, NOK: 63.1 };
const PRODUCTS = ['TIME', 'KONSULENT', 'KM', 'LICENS', 'MATERIALE'];
const WORDS = ['Rådgivning', 'Udvikling', 'Support', 'Kørsel', 'Licens', 'Møde', 'Installation', 'Design'];

/** mulberry32: small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedAgreement(agreement: FakeAgreementStore, o: SeedOptions = {}): SeedResult {
  const rnd = prng(o.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const linesPer = o.linesPerDocument ?? 3;

  const customers: number[] = [];
  for (let i = 0; i < (o.customers ?? 10); i++) {
    const currency = pick(CURRENCIES);
    customers.push(
      agreement.upsertCustomer({
        name: `${pick(WORDS)} ${i + 1} ApS`,
        currency,
        email: `kunde${i + 1}@example.dk`,
        address: `Vejen ${i + 1}`,
        city: 'Aarhus',
        zip: '8000',
        country: 'Danmark',
      }),
    );
  }
  if (customers.length === 0 && (o.projects || o.ordersPerState || o.quotesPerState || o.draftInvoices || o.bookedInvoices)) {
    customers.push(agreement.upsertCustomer({ name: 'Default ApS' }));
  }

  const projectCustomer = new Map<number, number>();
  const projects: number[] = [];
  for (let i = 0; i < (o.projects ?? 0); i++) {
    const customerNumber = pick(customers);
    const n = agreement.upsertProject({ name: `${pick(WORDS)} projekt ${i + 1}`, customerNumber, isClosed: rnd() < 0.1 });
    projects.push(n);
    projectCustomer.set(n, customerNumber);
  }

  const docInput = (): DocumentInput => {
    // 80% of documents belong to a project (and then to that project's customer).
    const projectNumber = projects.length > 0 && rnd() < 0.8 ? pick(projects) : undefined;
    const customerNumber = projectNumber !== undefined ? (projectCustomer.get(projectNumber) ?? pick(customers)) : pick(customers);
    const currency = pick(CURRENCIES);
    const lines: LineInput[] = [];
    for (let l = 0; l < linesPer; l++) {
      lines.push({
        description: `${pick(WORDS)} ${l + 1}`,
        productNumber: pick(PRODUCTS),
        quantity: Math.round(rnd() * 4000) / 100 + 0.25,
        unitNetPrice: Math.round(rnd() * 150000) / 100,
        ...(rnd() < 0.2 ? { discountPercentage: 10 } : {}),
      });
    }
    const day = 1 + Math.floor(rnd() * 28);
    return {
      customerNumber,
      currency,
      exchangeRate: RATES[currency] ?? 100,
      date: `2025-${String(1 + Math.floor(rnd() * 12)).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
      lines,
      ...(projectNumber !== undefined ? { projectNumber } : {}),
    };
  };

  const states: DocState[] = ['drafts', 'sent', 'archived'];
  const orders: Record<DocState, number[]> = { drafts: [], sent: [], archived: [] };
  const quotes: Record<DocState, number[]> = { drafts: [], sent: [], archived: [] };
  for (const state of states) {
    for (let i = 0; i < (o.ordersPerState ?? 0); i++) {
      const n = agreement.createOrder(docInput());
      if (state !== 'drafts') agreement.orders[state].set(takeOut(agreement.orders.drafts, n));
      orders[state].push(n);
    }
    for (let i = 0; i < (o.quotesPerState ?? 0); i++) {
      const n = agreement.createQuote(docInput());
      if (state !== 'drafts') agreement.quotes[state].set(takeOut(agreement.quotes.drafts, n));
      quotes[state].push(n);
    }
  }
  const draftInvoices: number[] = [];
  for (let i = 0; i < (o.draftInvoices ?? 0); i++) draftInvoices.push(agreement.createDraftInvoice(docInput()));
  const bookedInvoices: number[] = [];
  for (let i = 0; i < (o.bookedInvoices ?? 0); i++) {
    const n = agreement.createBookedInvoice(docInput());
    if (rnd() < 0.5) agreement.payInvoice(n, Number.MAX_SAFE_INTEGER);
    bookedInvoices.push(n);
  }
  return { customers, projects, orders, quotes, draftInvoices, bookedInvoices };
}

function takeOut<T extends { number: number }>(map: { delete(n: number): T | undefined }, n: number): T {
  const rec = map.delete(n);
  if (!rec) throw new Error(`seed: document ${n} missing`);
  return rec;
}
