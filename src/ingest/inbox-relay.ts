// Hands the events held in the Postgres inbox (sync_events rows with outcome `queued`) to Temporal once
// it is reachable again: in order of arrival (by seq; per workflow strictly one after another), in
// batches. No transaction is held while Temporal is called (on the embedded PGlite an open transaction
// stalls every other query, on Postgres it pins a connection and row locks for as long as Temporal
// takes): a batch is claimed in one short statement that leases its rows (`lease_owner`, `lease_until`,
// picked with `for update skip locked`), signalled outside any transaction, then marked `relayed`, and
// what was not signalled is released. Several service instances never relay the same row at the same
// time: a relay signals only while its lease has a signal's timeout to run, and a crashed relay's rows
// are taken again once its lease expires. A row whose workflow has an earlier event leased by another
// relay waits for it, so one workflow's events stay in order across relays (two relays claiming in the
// very same instant can still split one workflow's events; the workflow coalesces them either way).
// If the mark itself is lost (Postgres failing after the signal), the event is signalled again after the
// lease with the same eventId, which the workflow drops as already seen.
// Coalescing (docs/webhook.md, "The inbox relay"): of one workflow's events in a batch, only those that
// carry a renumbering (`oldNumber`) and the last one are signalled, in seq order; the events in between
// are marked relayed together with the next signalled one, once it is in Temporal. This is safe because
// the entity workflow syncs the entity's latest state after its last event and keeps nothing else of an
// inbox event (inbox events carry no reply-to or state hint); a renumbering is never dropped.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { queryRows, type Database } from '../db/client';
import type { Logger } from '../logger';
import { isApiSource, isEntityKind } from '../shared/entities';
import { entityChange } from '../shared/sync-signals';
import { signalEntityChange } from '../temporal/signal-entity';
import { errorText, type TemporalGate } from './ingestor';

export interface InboxRelayOptions {
  db: Database;
  client: Client;
  taskQueue: string;
  log: Logger;
  gate: TemporalGate;
  batchSize?: number;
  /** Poll interval while idle (a queued event also wakes the relay at once). */
  idleIntervalMs?: number;
  /** Backoff bounds while Temporal or Postgres fail. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  signalTimeoutMs?: number;
  /** How long a claimed batch is this relay's alone (default 60 s); a crashed relay's rows wait this long. */
  leaseMs?: number;
  /** Workflows signalled in parallel within a batch. */
  parallelism?: number;
  /** Signal only one workflow's renumberings and last event of a batch (default true). */
  coalesce?: boolean;
  /**
   * Event ids whose earlier signal attempt failed in a way that may still have reached Temporal (a
   * timeout): before signalling one of them again, the relay looks for it in the workflow's history.
   */
  uncertain?: Set<string>;
  onDepth?: (depth: number) => void;
  onRelayed?: (count: number) => void;
}

export interface InboxRelay {
  start(): void;
  /** Wakes the relay (an event was just queued). */
  notify(): void;
  /** Runs one pass now: relays what it can; returns how many rows it marked relayed. */
  relayOnce(): Promise<{ relayed: number; failed: boolean; more: boolean }>;
  stop(): Promise<void>;
}

const TAIL_FACTOR = 4;

interface QueuedRow extends Record<string, unknown> {
  seq: number | string;
  event_id: string;
  tenant_id: number;
  tenant: string;
  source: string;
  kind: string;
  number: number;
  old_number: number | null;
  received_at: Date | string;
  workflow_id: string;
}

export function createInboxRelay(options: InboxRelayOptions): InboxRelay {
  const batchSize = options.batchSize ?? 1000;
  const idleIntervalMs = options.idleIntervalMs ?? 1000;
  const minBackoffMs = options.minBackoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 15_000;
  const signalTimeoutMs = options.signalTimeoutMs ?? 5000;
  const parallelism = options.parallelism ?? 64;
  const coalesce = options.coalesce ?? true;
  const leaseMs = options.leaseMs ?? 60_000;
  const owner = randomUUID();

  let running: Promise<void> | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  let backoffMs = 0;
  let passing: Promise<{ relayed: number; failed: boolean; more: boolean }> | undefined;

  const uncertain = options.uncertain ?? new Set<string>();

  const alreadySignalled = async (row: QueuedRow): Promise<boolean> => {
    try {
      const history = await options.client.withDeadline(Date.now() + signalTimeoutMs, () =>
        options.client.workflow.getHandle(row.workflow_id).fetchHistory(),
      );
      return (history.events ?? []).some((event) => {
        const data = event.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0]?.data;
        return data ? Buffer.from(data).toString('utf8').includes(row.event_id) : false;
      });
    } catch (err) {
      // Never started: the earlier attempt did not arrive.
      if ((err as Error).name === 'WorkflowNotFoundError' || (err as { code?: number }).code === 5 || /not found/i.test((err as Error).message)) return false;
      throw err;
    }
  };

  const signalRow = async (row: QueuedRow): Promise<void> => {
    if (uncertain.has(row.event_id) && (await alreadySignalled(row))) {
      uncertain.delete(row.event_id);
      return;
    }
    const kind = row.kind;
    if (!isApiSource(row.source) || !isEntityKind(kind)) throw new Error(`inbox row ${row.seq} has an unknown source or kind`);
    const change = entityChange(
      { tenantId: row.tenant_id, tenant: row.tenant, kind, number: row.number },
      { eventId: row.event_id, source: row.source, receivedAt: row.received_at, oldNumber: row.old_number },
    );
    await options.client.withDeadline(Date.now() + signalTimeoutMs, () =>
      signalEntityChange(options.client, options.taskQueue, change),
    ).catch((err: unknown) => {
      uncertain.add(row.event_id);
      throw err;
    });
    uncertain.delete(row.event_id);
  };

  /**
   * Leases the next batch to this relay, in one short statement; rows come back in seq order. The batch
   * is the head, `batchSize` claimable rows shared fairly among the tenants that have queued rows (each
   * tenant's oldest, an equal share each, so one tenant's backlog of 100,000 events does not hold another
   * tenant's events back until it is relayed), and the later queued rows of the same workflows (the
   * tail, up to TAIL_FACTOR times as many), so that a workflow's whole backlog is coalesced into one
   * signal even when a burst interleaved its events with thousands of others. The tenants are found by
   * walking the queued rows' tenant index (one probe per tenant, however many rows each holds).
   */
  const claim = async (): Promise<QueuedRow[]> => {
    const claimableRow = (e: string) => sql.raw(`${e}.outcome = 'queued' and (${e}.lease_until is null or ${e}.lease_until < now())
               and not exists (
                 select 1 from sync_events p
                  where p.outcome = 'queued' and p.workflow_id = ${e}.workflow_id and p.seq < ${e}.seq and p.lease_until >= now())`);
    const rows = await queryRows<QueuedRow>(
      options.db,
      sql`with recursive queued_tenants(tenant_id) as (
            (select tenant_id from sync_events where outcome = 'queued' order by tenant_id limit 1)
            union all
            select (select e.tenant_id from sync_events e where e.outcome = 'queued' and e.tenant_id > q.tenant_id order by e.tenant_id limit 1)
              from queued_tenants q where q.tenant_id is not null),
          share as (
            select greatest(1, ceil(${batchSize}::numeric / greatest(1, count(*))))::integer as per_tenant
              from queued_tenants where tenant_id is not null),
          head as (
            select e.seq, e.workflow_id from queued_tenants q
             cross join lateral (
               select e.seq, e.workflow_id from sync_events e
                where e.tenant_id = q.tenant_id and ${claimableRow('e')}
                order by e.seq
                limit (select per_tenant from share)
                  for update of e skip locked) e
             where q.tenant_id is not null),
          tail as (
            select e.seq from sync_events e
             where ${claimableRow('e')}
               and e.workflow_id in (select workflow_id from head)
             order by e.seq
             limit ${batchSize * TAIL_FACTOR}
               for update of e skip locked),
          claimable as (select seq from head union select seq from tail)
          update sync_events s
             set lease_owner = ${owner}, lease_until = now() + ${leaseMs}::integer * interval '1 millisecond'
            from claimable c, tenants t
           where s.seq = c.seq and t.id = s.tenant_id
          returning s.seq, s.event_id, s.tenant_id, t.name as tenant, s.source, s.kind, s.number, s.old_number, s.received_at, s.workflow_id`,
    );
    return rows.sort((a, b) => Number(a.seq) - Number(b.seq));
  };

  // One JSON parameter for a batch's seqs, not one each: a batch of 5,000 rows built a 5,000-parameter
  // statement (~20 ms of the event loop per statement in the burst's profile).
  const seqList = (seqs: number[]) => sql`select jsonb_array_elements_text(${JSON.stringify(seqs)}::jsonb)::bigint`;

  const pass = async (): Promise<{ relayed: number; failed: boolean; more: boolean }> => {
    let failed = false;
    let leaseRunningOut = false;
    const claimedAt = Date.now();
    const rows = await claim();
    if (rows.length === 0) {
      options.gate.markUp();
      return { relayed: 0, failed: false, more: false };
    }
    // One lane per workflow, in seq order; lanes run in parallel, a failing lane stops.
    const lanes = new Map<string, QueuedRow[]>();
    for (const row of rows) {
      const lane = lanes.get(row.workflow_id);
      if (lane) lane.push(row);
      else lanes.set(row.workflow_id, [row]);
    }
    const done: number[] = [];
    let signals = 0;
    const queue = [...lanes.values()];
    const worker = async () => {
      for (let lane = queue.shift(); lane; lane = queue.shift()) {
        // Rows coalesced into the next signalled one: marked relayed only once it is in Temporal.
        let carried: QueuedRow[] = [];
        for (const [index, row] of lane.entries()) {
          if (failed) return;
          if (coalesce && index < lane.length - 1 && row.old_number === null) {
            carried.push(row);
            continue;
          }
          // A signal started now must end (its timeout) while the rows are still leased to this relay.
          if (Date.now() + signalTimeoutMs >= claimedAt + leaseMs) {
            leaseRunningOut = true;
            return;
          }
          try {
            await signalRow(row);
            signals += 1;
            for (const c of carried) {
              done.push(Number(c.seq));
              uncertain.delete(c.event_id);
            }
            carried = [];
            done.push(Number(row.seq));
          } catch (err) {
            failed = true;
            options.log.warn({ eventId: row.event_id, err: errorText(err) }, 'inbox relay: Temporal did not take the event yet');
            return;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallelism, queue.length) }, worker));
    if (done.length > 0) {
      await options.db.execute(
        sql`update sync_events set outcome = 'relayed', relayed_at = now(), lease_owner = null, lease_until = null
             where seq in (${seqList(done)}) and outcome = 'queued'`,
      );
    }
    const signalled = new Set(done);
    const left = rows.map((r) => Number(r.seq)).filter((seq) => !signalled.has(seq));
    if (left.length > 0) {
      // Released at once, so the next pass (of any relay) takes them without waiting for the lease.
      await options.db.execute(
        sql`update sync_events set lease_owner = null, lease_until = null
             where seq in (${seqList(left)}) and outcome = 'queued' and lease_owner = ${owner}`,
      );
    }
    const relayed = done.length;
    if (relayed > 0) {
      options.onRelayed?.(relayed);
      options.log.info({ relayed, signals }, 'inbox relay: events handed to Temporal');
    }
    // A batch claimed something: pass again at once (with tenants sharing the head, a batch smaller than
    // batchSize does not mean the inbox is drained); the pass that claims nothing lets the relay idle.
    const more = (rows.length > 0 || leaseRunningOut) && !failed;
    if (!failed && !more) options.gate.markUp();
    if (failed) options.gate.markDown();
    return { relayed, failed, more };
  };

  const updateDepth = async () => {
    if (!options.onDepth) return;
    const [row] = await queryRows<{ depth: number }>(options.db, sql`select count(*)::int as depth from sync_events where outcome = 'queued'`);
    options.onDepth(row?.depth ?? 0);
  };

  const relayOnce = () => {
    // One pass at a time per relay (the loop and a test's explicit call share it).
    passing ??= pass().finally(() => {
      passing = undefined;
    });
    return passing;
  };

  const loop = async () => {
    while (!stopped) {
      let delay = idleIntervalMs;
      try {
        const result = await relayOnce();
        if (result.failed) {
          backoffMs = Math.min(Math.max(backoffMs * 2, minBackoffMs), maxBackoffMs);
          delay = backoffMs;
        } else {
          backoffMs = 0;
          delay = result.more ? 0 : idleIntervalMs;
        }
        await updateDepth().catch(() => {});
      } catch (err) {
        backoffMs = Math.min(Math.max(backoffMs * 2, minBackoffMs), maxBackoffMs);
        delay = backoffMs;
        options.log.warn({ err: errorText(err), retryInMs: delay }, 'inbox relay: Postgres unavailable');
      }
      if (stopped) break;
      if (delay > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, delay);
          // A new queued event wakes an idle relay; during backoff it waits its turn.
          function done() {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          }
          wake = backoffMs === 0 ? done : () => {};
          stopWake = done;
        });
      }
    }
  };
  let stopWake: (() => void) | undefined;

  return {
    start() {
      if (running) return;
      stopped = false;
      running = loop();
    },
    notify() {
      wake?.();
    },
    relayOnce,
    async stop() {
      stopped = true;
      stopWake?.();
      await running;
      await passing?.catch(() => {});
      running = undefined;
    },
  };
}
