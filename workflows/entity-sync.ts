// One durable workflow per e-conomic entity: `economic/<tenant>/<kind>/<number>`. Webhooks and
// reconciliation signal-with-start it with a `change` event; it syncs until no change is pending.
import { condition, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';
import { CHANGE_SIGNAL, type ChangeEvent, type EntitySyncInput } from '../src/shared/sync-signals';

export const changeSignal = defineSignal<[ChangeEvent]>(CHANGE_SIGNAL);

const { recordSyncOutcome } = proxyActivities<ReturnType<typeof activities.createActivities>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

export async function entitySyncWorkflow(input: EntitySyncInput): Promise<{ syncs: number; events: number }> {
  const pending: ChangeEvent[] = [...(input.pending ?? [])];
  const seen = new Set(input.seenEventIds ?? []);
  let events = 0;
  setHandler(changeSignal, (event) => {
    if (seen.has(event.eventId)) return;
    seen.add(event.eventId);
    pending.push(event);
    events += 1;
  });

  let syncs = 0;
  while (pending.length > 0) {
    const batch = pending.splice(0, pending.length);
    await recordSyncOutcome({
      tenantId: input.tenantId,
      kind: input.kind,
      number: input.number,
      workflowId: workflowInfo().workflowId,
      outcome: 'synced',
      eventIds: batch.map((e) => e.eventId),
    });
    syncs += 1;
  }
  await condition(() => pending.length === 0);
  return { syncs, events };
}
