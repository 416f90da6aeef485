// e-conomic's call budget and its 429 pause, per agreement and shared by every worker process through
// Postgres (docs/economic-api.md, "The call budget"). e-conomic allows about 50,000 calls per agreement
// per day (fair use); we keep a configurable budget well inside it (ECONOMIC_DAILY_CALL_BUDGET) per fixed
// 24-hour window (UTC days), with priorities:
//   - webhook-driven syncs may use the whole budget;
//   - reconciliation only while more than its reserve share remains: it yields then, ends the scope as
//     budget-cut, and the next run resumes where it stopped (workflows/reconcile.ts).
// A 429 pauses the agreement for every worker until Retry-After (or a default backoff) has passed.
//
// A call costs one statement, shared by the calls the process makes for the agreement at the same moment:
// an atomic UPSERT ... RETURNING that both checks the pause and takes the calls from the window's count
// only while it stays under the caller's limit, so any number of processes agree without locks. Time is
// the database's (`now()`), so workers with skewed clocks agree too.
import { sql } from 'drizzle-orm';
import { queryRows, type Database } from '../db/client';
import { EconomicError, type CallGate } from '../economic';

/** e-conomic's published fair use is ~50,000 calls per agreement per day; the default stays well inside. */
export const DEFAULT_DAILY_CALL_BUDGET = 40_000;
/** Reconciliation stops when less than this share of the day's budget remains. */
export const DEFAULT_RECONCILE_RESERVE_SHARE = 0.2;
/** How long a 429 without Retry-After pauses the agreement. */
export const DEFAULT_PAUSE_MS = 60_000;
export const WINDOW_MS = 24 * 3600_000;
/** Most calls one budget statement takes for a process (the calls waiting beyond go in the next). */
const MAX_TAKE_BATCH = 100;

export type CallPriority = 'sync' | 'reconcile';

export interface CallBudgetSettings {
  /** Calls per agreement per window. */
  dailyCalls?: number;
  /** Share of the budget reconciliation leaves to webhook-driven syncs. */
  reconcileReserveShare?: number;
  defaultPauseMs?: number;
}

export interface AgreementBudget {
  agreementNumber: number;
  windowStart: Date;
  windowEnd: Date;
  used: number;
  limit: number;
  /** Set while a 429 pauses the agreement. */
  pausedUntil: Date | null;
}

// The window's start in epoch seconds, from the database's clock: the same for every process and zone.
const WINDOW_START = sql`to_timestamp(floor(extract(epoch from now()) / 86400) * 86400)`;

export function createCallBudget(db: Database, settings: CallBudgetSettings = {}) {
  const dailyCalls = settings.dailyCalls ?? DEFAULT_DAILY_CALL_BUDGET;
  const reserve = settings.reconcileReserveShare ?? DEFAULT_RECONCILE_RESERVE_SHARE;
  const defaultPauseMs = settings.defaultPauseMs ?? DEFAULT_PAUSE_MS;
  const limitFor = (priority: CallPriority) => (priority === 'sync' ? dailyCalls : Math.floor(dailyCalls * (1 - reserve)));

  /**
   * Takes up to `n` calls from the agreement's window unless it is paused, never passing the caller's limit.
   * `granted`: how many it took (null or 0: refused by the limit, or by the pause, then `paused_ms` is set).
   */
  async function take(agreementNumber: number, limit: number, n: number) {
    const [row] = await queryRows<{ granted: number | null; paused_ms: number | null; window_left_ms: number }>(
      db,
      // In SET, b.calls is the count before this take: last_granted carries what fitted under the limit.
      sql`with pause as (
            select paused_until from economic_agreement_pauses where agreement_number = ${agreementNumber} and paused_until > now()
          ), taken as (
            insert into economic_call_budget as b (agreement_number, window_start, calls, last_granted)
            select ${agreementNumber}, ${WINDOW_START}, least(${n}::int, ${limit}::int), least(${n}::int, ${limit}::int)
            where not exists (select 1 from pause) and ${limit} > 0
            on conflict (agreement_number, window_start) do update
              set calls = least(b.calls + ${n}::int, ${limit}::int), last_granted = least(b.calls + ${n}::int, ${limit}::int) - b.calls
              where b.calls < ${limit}
            returning b.last_granted
          )
          select (select last_granted from taken) as granted,
                 (select ceil(extract(epoch from (paused_until - now())) * 1000)::float8 from pause) as paused_ms,
                 ceil(extract(epoch from (${WINDOW_START} + interval '1 day' - now())) * 1000)::float8 as window_left_ms`,
    );
    if (!row) throw new Error('call budget: the UPSERT returned no row');
    return row;
  }

  // The calls a process is about to make for one agreement at once (a reconciliation's 20 fetches, the
  // syncs of a burst) take their budget together: one statement per batch instead of one per call, all of
  // them on the same row, which otherwise queue on its lock and each wait for their own commit. A batch is
  // sent while none is in flight for that agreement and limit, so batches form only under load; an idle
  // caller takes its one call at once, as before.
  type Taken = Awaited<ReturnType<typeof take>>;
  type Waiter = { resolve: (row: Taken) => void; reject: (err: unknown) => void };
  const queues = new Map<string, { agreementNumber: number; limit: number; waiting: Waiter[]; inFlight: boolean }>();
  const send = (key: string) => {
    const q = queues.get(key);
    if (!q || q.inFlight) return;
    if (q.waiting.length === 0) return void queues.delete(key);
    const batch = q.waiting.splice(0, MAX_TAKE_BATCH);
    q.inFlight = true;
    take(q.agreementNumber, q.limit, batch.length)
      .then(
        (row) => {
          // The first callers of the batch get the calls that fitted; the rest are refused, having taken nothing.
          const granted = row.granted ?? 0;
          for (const [i, w] of batch.entries()) w.resolve(i < granted ? row : { ...row, granted: null });
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        q.inFlight = false;
        send(key);
      });
  };
  const takeOne = (agreementNumber: number, limit: number): Promise<Taken> =>
    new Promise<Taken>((resolve, reject) => {
      const key = `${agreementNumber}:${limit}`;
      let q = queues.get(key);
      if (!q) {
        q = { agreementNumber, limit, waiting: [], inFlight: false };
        queues.set(key, q);
      }
      q.waiting.push({ resolve, reject });
      send(key);
    });

  return {
    limitFor,

    /** The gate one e-conomic client asks before each call for this agreement (src/economic/http.ts). */
    gate(agreementNumber: number, priority: CallPriority): CallGate {
      const limit = limitFor(priority);
      return {
        async beforeCall(endpoint) {
          const row = await takeOne(agreementNumber, limit);
          if (row.paused_ms !== null) {
            throw new EconomicError({
              kind: 'rate_limited',
              endpoint,
              message: `e-conomic GET ${endpoint}: not called: agreement ${agreementNumber} is paused after e-conomic answered 429, for ${Math.ceil(row.paused_ms / 1000)} s more`,
              retryAfterMs: Math.max(1, row.paused_ms),
            });
          }
          if (!row.granted) {
            const whose = priority === 'sync' ? 'the daily call budget' : `reconciliation's share of the daily call budget (the last ${Math.round(reserve * 100)} % is kept for webhook syncs)`;
            throw new EconomicError({
              kind: 'budget_exhausted',
              endpoint,
              message: `e-conomic GET ${endpoint}: not called: agreement ${agreementNumber} has used ${whose}, ${limit} calls; the window ends in ${Math.ceil(row.window_left_ms / 60_000)} min`,
              retryAfterMs: Math.max(1, row.window_left_ms),
            });
          }
        },
        async rateLimited(retryAfterMs) {
          const ms = Math.max(1, Math.round(retryAfterMs ?? defaultPauseMs));
          await db.execute(sql`insert into economic_agreement_pauses as p (agreement_number, paused_until, updated_at)
            values (${agreementNumber}, now() + ${ms} * interval '1 millisecond', now())
            on conflict (agreement_number) do update
              set paused_until = greatest(p.paused_until, excluded.paused_until), updated_at = now()`);
        },
      };
    },

    /** The current window's use and any pause of these agreements (for `status`). */
    async usage(agreementNumbers: number[]): Promise<Map<number, AgreementBudget>> {
      const out = new Map<number, AgreementBudget>();
      if (agreementNumbers.length === 0) return out;
      const rows = await queryRows<{ agreement_number: number; window_start: Date | string; used: number; paused_until: Date | string | null }>(
        db,
        sql`select a.n as agreement_number, ${WINDOW_START} as window_start, coalesce(b.calls, 0)::int as used,
                   (select paused_until from economic_agreement_pauses p where p.agreement_number = a.n and p.paused_until > now()) as paused_until
            from unnest(${sql.raw(`ARRAY[${agreementNumbers.map((n) => Math.trunc(n)).join(',')}]::int[]`)}) as a(n)
            left join economic_call_budget b on b.agreement_number = a.n and b.window_start = ${WINDOW_START}`,
      );
      for (const r of rows) {
        const windowStart = new Date(r.window_start);
        out.set(Number(r.agreement_number), {
          agreementNumber: Number(r.agreement_number),
          windowStart,
          windowEnd: new Date(windowStart.getTime() + WINDOW_MS),
          used: Number(r.used),
          limit: dailyCalls,
          pausedUntil: r.paused_until === null ? null : new Date(r.paused_until),
        });
      }
      return out;
    },
  };
}

export type CallBudget = ReturnType<typeof createCallBudget>;
