// Reads what reached a workflow: the `change` signals in its history, decoded.
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
