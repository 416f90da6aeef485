// Reads what reached a workflow: the `change` signals in its history, decoded; and checks them against the events' rows.
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { CHANGE_SIGNAL, type ChangeEvent } from '../../src/shared/sync-signals';

export async function changeSignals(client: Client, workflowId: string): Promise<ChangeEvent[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events: ChangeEvent[] = [];
  for (const event of history.events ?? []) {
    const attributes = event.workflowExecutionSignaledEventAttributes;
    if (!attributes || attributes.signalName !== CHANGE_SIGNAL) continue;
    const data = attributes.input?.payloads?.[0]?.data;
    if (data) events.push(JSON.parse(Buffer.from(data).toString('utf8')) as ChangeEvent);
  }
  return events;
}

export async function historyText(client: Client, workflowId: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  // Payload data are bytes: decode them so a grep sees their text.
  return JSON.stringify(history, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value));
}

/** One event's sync_events row, as far as delivery is concerned. */
export interface DeliveredRow {
  eventId: string;
  outcome: string;
  seq: number;
  oldNumber: number | null;
}

/**
 * Asserts what reached one workflow, given its events' sync_events rows: no event twice; every event
 * signalled at once is in its history; of the events relayed from the inbox, the relay coalesces
 * (docs/webhook.md, "The inbox relay"): it signals a subsequence in arrival order that holds every
 * renumbering and the last one.
 */
export async function assertDelivered(
  client: Client,
  workflowId: string,
  rows: readonly DeliveredRow[],
  /** false where relays claim at the same instant, which may split one workflow's events (src/ingest/inbox-relay.ts). */
  ordered = true,
): Promise<void> {
  const signalled = (await changeSignals(client, workflowId)).map((s) => s.eventId);
  const ours = new Set(rows.map((r) => r.eventId));
  const mine = signalled.filter((id) => ours.has(id));
  assert.equal(new Set(mine).size, mine.length, `${workflowId}: an event signalled twice`);
  const at = new Set(mine);
  for (const r of rows) if (r.outcome === 'signalled') assert.ok(at.has(r.eventId), `${workflowId}: signalled event ${r.eventId} missing`);
  const relayed = rows.filter((r) => r.outcome !== 'signalled').sort((a, b) => a.seq - b.seq);
  for (const r of relayed) assert.equal(r.outcome, 'relayed', `${workflowId}: event ${r.eventId} still ${r.outcome}`);
  if (relayed.length === 0) return;
  const relayedIds = new Set(relayed.map((r) => r.eventId));
  if (ordered) {
    assert.deepEqual(
      mine.filter((id) => relayedIds.has(id)),
      relayed.map((r) => r.eventId).filter((id) => at.has(id)),
      `${workflowId}: relayed events in arrival order`,
    );
  }
  assert.ok(at.has(relayed.at(-1)!.eventId), `${workflowId}: the last relayed event is signalled`);
  for (const r of relayed) if (r.oldNumber !== null) assert.ok(at.has(r.eventId), `${workflowId}: renumbering ${r.eventId} signalled`);
}
