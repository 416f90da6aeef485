// In-memory data of one fake e-conomic agreement, with the mutations tests need (lifecycles, renumbering,
// payments). Every change moves `lastUpdated` forward on a controllable clock, so tests are deterministic.

export type DocState = 'drafts' | 'sent' | 'archived';
export const DOC_STATES: readonly DocState[] = ['drafts', 'sent', 'archived'];

/**
 * A controllable clock: each change ticks it forward one second. `'wall'` follows the real clock as
 * e-conomic's does (a change is stamped now, in whole seconds rounded up, and never before the last one),
 * for tests whose watermarks are taken from the real clock (reconciliation's scan start).
 */
export class FakeClock {
  private ms: number;
  private readonly wall: boolean;
  constructor(start: Date | string = '2026-01-01T00:00:00Z') {
    this.wall = start === 'wall';
    this.ms = start === 'wall' ? Date.now() : new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.ms);
  }
  set(d: Date | string): void {
    this.ms = new Date(d).getTime();
  }
  advance(ms: number): Date {
    this.ms += ms;
    return this.now();
  }
  /** Advances one second and returns the new instant in e-conomic's format (no milliseconds). */
  tick(): string {
    this.ms += 1000;
    if (this.wall) this.ms = Math.max(this.ms, Math.ceil(Date.now() / 1000) * 1000);
    return iso(this.ms);
  }
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface CustomerRec {
  customerNumber: number;
  name: string;
  currency: string;
  email?: string;
  address?: string;
  city?: string;
  zip?: string;
  country?: string;
  barred?: boolean;
  lastUpdated: string;
}

export interface ProjectRec {
  number: number;
  name: string;
  customerNumber: number | null;
  isClosed: boolean;
  isBarred: boolean;
  mainProjectNumber: number | null;
  lastUpdated: string;
  objectVersion: string;
}

export interface LineInput {
  description?: string;
  productNumber?: string;
  quantity: number;
  unitNetPrice: number;
  discountPercentage?: number;
}

export interface LineRec extends LineInput {
  lineNumber: number;
  sortKey: number;
  totalNetAmount: number;
}

export interface DocumentInput {
  customerNumber: number;
  projectNumber?: number;
  date?: string;
  dueDate?: string;
  currency?: string;
  exchangeRate?: number;
  heading?: string;
  lines?: LineInput[];
  /** Choose the number; otherwise the next free one. */
  number?: number;
}

export interface DocRec {
  number: number;
  customerNumber: number;
  projectNumber?: number;
  date: string;
  dueDate: string;
  currency: string;
  exchangeRate: number;
  heading?: string;
  lines: LineRec[];
  netAmount: number;
  vatAmount: number;
  grossAmount: number;
  lastUpdated: string;
  remainder?: number;
}

export const VAT_RATE = 0.25;

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** A Map by number that keeps a sorted snapshot for listing, rebuilt only after a change. */
export class NumberedMap<T extends { number: number }> {
  private readonly map = new Map<number, T>();
  private sorted: T[] | undefined = [];
  get size(): number {
    return this.map.size;
  }
  get(n: number): T | undefined {
    return this.map.get(n);
  }
  has(n: number): boolean {
    return this.map.has(n);
  }
  set(rec: T): void {
    const existed = this.map.has(rec.number);
    this.map.set(rec.number, rec);
    // Appending a new highest number keeps the snapshot sorted.
    const last = this.sorted?.[this.sorted.length - 1];
    if (!existed && this.sorted && (last === undefined || last.number < rec.number)) this.sorted.push(rec);
    else this.sorted = undefined;
  }
  delete(n: number): T | undefined {
    const rec = this.map.get(n);
    if (rec) {
      this.map.delete(n);
      this.sorted = undefined;
    }
    return rec;
  }
  list(): readonly T[] {
    this.sorted ??= [...this.map.values()].sort((a, b) => a.number - b.number);
    return this.sorted;
  }
  maxNumber(): number {
    const l = this.list();
    return l[l.length - 1]?.number ?? 0;
  }
}

type CustomerEntry = CustomerRec & { number: number };
type ProjectEntry = ProjectRec;

export class FakeAgreementStore {
  readonly customers = new NumberedMap<CustomerEntry>();
  readonly projects = new NumberedMap<ProjectEntry>();
  readonly orders: Record<DocState, NumberedMap<DocRec>> = { drafts: new NumberedMap(), sent: new NumberedMap(), archived: new NumberedMap() };
  readonly quotes: Record<DocState, NumberedMap<DocRec>> = { drafts: new NumberedMap(), sent: new NumberedMap(), archived: new NumberedMap() };
  readonly draftInvoices = new NumberedMap<DocRec>();
  readonly bookedInvoices = new NumberedMap<DocRec>();
  private nextOrder = 1;
  private nextQuote = 1;
  private nextDraftInvoice = 1;
  private nextBooked = 10001;

  constructor(private readonly clock: FakeClock) {}

  // ---- customers and projects ----

  upsertCustomer(c: Partial<Omit<CustomerRec, 'lastUpdated'>> & { customerNumber?: number }): number {
    const n = c.customerNumber ?? this.customers.maxNumber() + 1;
    const prev = this.customers.get(n);
    const rec: CustomerEntry = {
      ...prev,
      name: `Customer ${n}`,
      currency: 'DKK',
      ...(prev ? { name: prev.name, currency: prev.currency } : {}),
      ...stripUndefined(c),
      customerNumber: n,
      number: n,
      lastUpdated: this.clock.tick(),
    };
    this.customers.set(rec);
    return n;
  }

  deleteCustomer(n: number): boolean {
    return this.customers.delete(n) !== undefined;
  }

  upsertProject(p: Partial<Omit<ProjectRec, 'lastUpdated' | 'objectVersion'>>): number {
    const n = p.number ?? this.projects.maxNumber() + 1;
    const prev = this.projects.get(n);
    const rec: ProjectEntry = {
      name: prev?.name ?? `Project ${n}`,
      customerNumber: prev?.customerNumber ?? null,
      isClosed: prev?.isClosed ?? false,
      isBarred: prev?.isBarred ?? false,
      mainProjectNumber: prev?.mainProjectNumber ?? null,
      ...stripUndefined(p),
      number: n,
      lastUpdated: this.clock.tick(),
      objectVersion: `v${(Number(prev?.objectVersion.slice(1) ?? 0) || 0) + 1}`,
    };
    this.projects.set(rec);
    return n;
  }

  deleteProject(n: number): boolean {
    return this.projects.delete(n) !== undefined;
  }

  /**
   * The project moves to a free number; documents that referenced it now name the new number (their own
   * lastUpdated is left as it was: whether e-conomic moves it is unknown, and equal versions are the harder case).
   */
  renumberProject(oldN: number, newN: number): void {
    const rec = this.projects.get(oldN);
    if (!rec) throw new Error(`no project ${oldN}`);
    if (this.projects.has(newN)) throw new Error(`project number ${newN} is taken`);
    this.projects.delete(oldN);
    this.projects.set({ ...rec, number: newN, lastUpdated: this.clock.tick() });
    const documents = [...Object.values(this.orders), ...Object.values(this.quotes), this.draftInvoices, this.bookedInvoices];
    for (const map of documents) {
      for (const doc of map.list()) if (doc.projectNumber === oldN) doc.projectNumber = newN;
    }
  }

  // ---- documents (shared helpers) ----

  private buildDoc(number: number, input: DocumentInput): DocRec {
    const lines = (input.lines ?? []).map((l, i): LineRec => {
      const total = round2(l.quantity * l.unitNetPrice * (1 - (l.discountPercentage ?? 0) / 100));
      return { ...l, lineNumber: i + 1, sortKey: i + 1, totalNetAmount: total };
    });
    const net = round2(lines.reduce((s, l) => s + l.totalNetAmount, 0));
    const vat = round2(net * VAT_RATE);
    const date = input.date ?? this.clock.now().toISOString().slice(0, 10);
    const rec: DocRec = {
      number,
      customerNumber: input.customerNumber,
      date,
      dueDate: input.dueDate ?? addDays(date, 30),
      currency: input.currency ?? 'DKK',
      exchangeRate: input.exchangeRate ?? 100,
      lines,
      netAmount: net,
      vatAmount: vat,
      grossAmount: round2(net + vat),
      lastUpdated: this.clock.tick(),
    };
    if (input.projectNumber !== undefined) rec.projectNumber = input.projectNumber;
    if (input.heading !== undefined) rec.heading = input.heading;
    return rec;
  }

  private patchDoc(map: NumberedMap<DocRec>, n: number, patch: Partial<DocumentInput>): void {
    const prev = map.get(n);
    if (!prev) throw new Error(`no document ${n}`);
    const merged: DocumentInput = {
      customerNumber: prev.customerNumber,
      date: prev.date,
      dueDate: prev.dueDate,
      currency: prev.currency,
      exchangeRate: prev.exchangeRate,
      lines: prev.lines.map(({ description, productNumber, quantity, unitNetPrice, discountPercentage }) =>
        stripUndefined({ description, productNumber, quantity, unitNetPrice, discountPercentage }) as LineInput),
      ...(prev.projectNumber !== undefined ? { projectNumber: prev.projectNumber } : {}),
      ...(prev.heading !== undefined ? { heading: prev.heading } : {}),
      ...stripUndefined(patch),
    };
    const next = this.buildDoc(n, merged);
    if (prev.remainder !== undefined) next.remainder = prev.remainder;
    map.set(next);
  }

  private stateOf(maps: Record<DocState, NumberedMap<DocRec>>, n: number): DocState | undefined {
    return DOC_STATES.find((s) => maps[s].has(n));
  }

  private move(maps: Record<DocState, NumberedMap<DocRec>>, n: number, from: DocState[], to: DocState): void {
    const state = this.stateOf(maps, n);
    if (state === undefined || !from.includes(state)) throw new Error(`document ${n} is not in ${from.join('/')}`);
    const rec = maps[state].delete(n);
    if (!rec) throw new Error(`document ${n} vanished`);
    rec.lastUpdated = this.clock.tick();
    maps[to].set(rec);
  }

  private renumber(maps: Array<NumberedMap<DocRec>>, oldN: number, newN: number): void {
    const map = maps.find((m) => m.has(oldN));
    if (!map) throw new Error(`no document ${oldN}`);
    if (maps.some((m) => m.has(newN))) throw new Error(`number ${newN} is taken`);
    const rec = map.delete(oldN);
    if (!rec) throw new Error(`no document ${oldN}`);
    rec.number = newN;
    rec.lastUpdated = this.clock.tick();
    map.set(rec);
  }

  private deleteFrom(maps: Array<NumberedMap<DocRec>>, n: number): boolean {
    return maps.some((m) => m.delete(n) !== undefined);
  }

  private allocate(maps: Array<NumberedMap<DocRec>>, requested: number | undefined, next: number): number {
    const n = requested ?? next;
    if (maps.some((m) => m.has(n))) throw new Error(`number ${n} is taken`);
    return n;
  }

  // ---- orders ----

  createOrder(input: DocumentInput): number {
    const n = this.allocate(Object.values(this.orders), input.number, this.nextOrder);
    this.nextOrder = Math.max(this.nextOrder, n + 1);
    this.orders.drafts.set(this.buildDoc(n, input));
    return n;
  }
  orderState(n: number): DocState | undefined {
    return this.stateOf(this.orders, n);
  }
  updateOrder(n: number, patch: Partial<DocumentInput>): void {
    const state = this.orderState(n);
    if (!state) throw new Error(`no order ${n}`);
    this.patchDoc(this.orders[state], n, patch);
  }
  sendOrder(n: number): void {
    this.move(this.orders, n, ['drafts'], 'sent');
  }
  archiveOrder(n: number): void {
    this.move(this.orders, n, ['drafts', 'sent'], 'archived');
  }
  deleteOrder(n: number): boolean {
    return this.deleteFrom(Object.values(this.orders), n);
  }
  renumberOrder(oldN: number, newN: number): void {
    this.renumber(Object.values(this.orders), oldN, newN);
    this.nextOrder = Math.max(this.nextOrder, newN + 1);
  }

  // ---- quotes ----

  createQuote(input: DocumentInput): number {
    const n = this.allocate(Object.values(this.quotes), input.number, this.nextQuote);
    this.nextQuote = Math.max(this.nextQuote, n + 1);
    this.quotes.drafts.set(this.buildDoc(n, input));
    return n;
  }
  quoteState(n: number): DocState | undefined {
    return this.stateOf(this.quotes, n);
  }
  updateQuote(n: number, patch: Partial<DocumentInput>): void {
    const state = this.quoteState(n);
    if (!state) throw new Error(`no quote ${n}`);
    this.patchDoc(this.quotes[state], n, patch);
  }
  sendQuote(n: number): void {
    this.move(this.quotes, n, ['drafts'], 'sent');
  }
  archiveQuote(n: number): void {
    this.move(this.quotes, n, ['drafts', 'sent'], 'archived');
  }
  deleteQuote(n: number): boolean {
    return this.deleteFrom(Object.values(this.quotes), n);
  }
  renumberQuote(oldN: number, newN: number): void {
    this.renumber(Object.values(this.quotes), oldN, newN);
    this.nextQuote = Math.max(this.nextQuote, newN + 1);
  }

  // ---- invoices ----

  createDraftInvoice(input: DocumentInput): number {
    const n = this.allocate([this.draftInvoices], input.number, this.nextDraftInvoice);
    this.nextDraftInvoice = Math.max(this.nextDraftInvoice, n + 1);
    this.draftInvoices.set(this.buildDoc(n, input));
    return n;
  }
  updateDraftInvoice(n: number, patch: Partial<DocumentInput>): void {
    this.patchDoc(this.draftInvoices, n, patch);
  }
  deleteDraftInvoice(n: number): boolean {
    return this.draftInvoices.delete(n) !== undefined;
  }
  renumberDraftInvoice(oldN: number, newN: number): void {
    this.renumber([this.draftInvoices], oldN, newN);
    this.nextDraftInvoice = Math.max(this.nextDraftInvoice, newN + 1);
  }
  /** Books a draft invoice: the draft disappears and a booked invoice with a new number appears. */
  bookDraftInvoice(n: number, bookedNumber?: number): number {
    const draft = this.draftInvoices.get(n);
    if (!draft) throw new Error(`no draft invoice ${n}`);
    const booked = this.allocate([this.bookedInvoices], bookedNumber, this.nextBooked);
    this.nextBooked = Math.max(this.nextBooked, booked + 1);
    this.draftInvoices.delete(n);
    this.bookedInvoices.set({ ...draft, number: booked, remainder: draft.grossAmount, lastUpdated: this.clock.tick() });
    return booked;
  }
  /** Creates a booked invoice directly (seeding). */
  createBookedInvoice(input: DocumentInput): number {
    const n = this.allocate([this.bookedInvoices], input.number, this.nextBooked);
    this.nextBooked = Math.max(this.nextBooked, n + 1);
    const rec = this.buildDoc(n, input);
    rec.remainder = rec.grossAmount;
    this.bookedInvoices.set(rec);
    return n;
  }
  /** Registers a payment: the remainder goes down (never below zero). Returns the new remainder. */
  payInvoice(n: number, amount: number): number {
    const rec = this.bookedInvoices.get(n);
    if (!rec) throw new Error(`no booked invoice ${n}`);
    rec.remainder = Math.max(0, round2((rec.remainder ?? rec.grossAmount) - amount));
    rec.lastUpdated = this.clock.tick();
    return rec.remainder;
  }
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
