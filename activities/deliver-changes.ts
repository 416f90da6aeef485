// Outbound delivery of the change feed to one subscriber (docs/change-feed.md), called over and over by
// its delivery workflow (workflows/change-delivery.ts). One call delivers what is pending, in cursor
// order (so in order per entity), each change as a signed POST, and records progress after each
// accepted change, so a retry or a killed worker resumes at the first change not yet accepted (a change
// may arrive twice, never be skipped: receivers deduplicate by its cursor). With nothing pending it
// waits, polling the log, up to `idleWaitMs`, so an idle subscriber costs one activity a minute in
// Temporal's history, not one per change check.
import { ApplicationFailure, Context, sleep } from '@temporalio/activity';
import type { SecretBox } from '../src/secrets/secret-box';
import { DELIVERY_FAILED, SIGNATURE_HEADER, type DeliveryFailureDetails } from '../src/shared/change-delivery';
import type { DeliverableChange, Subscriber, SubscriberStore } from '../src/store/change-subscribers';
import { signatureHeader } from '../src/util/webhook-signature';

export interface DeliveryDeps {
  subscribers: SubscriberStore;
  secretBox: SecretBox;
  /** A POST that takes longer than this counts as failed. */
  requestTimeoutMs?: number;
  /** How often an idle call looks for new changes. */
  pollIntervalMs?: number;
}

export interface DeliverChangesInput {
  subscriberId: number;
  /** With nothing pending, wait this long for changes before returning. */
  idleWaitMs?: number;
}

export interface DeliverChangesResult {
  delivered: number;
  /** The subscriber was removed: the workflow ends. */
  removed?: boolean;
}

const BATCH = 100;

/** The JSON body of one delivery: where to look, never entity data (as NOTIFY). */
export function deliveryBody(c: DeliverableChange): string {
  return JSON.stringify({
    cursor: c.cursor,
    tenant: c.tenant,
    kind: c.kind,
    number: c.number,
    change: c.change,
    oldNumber: c.oldNumber,
    lastUpdated: c.lastUpdated?.toISOString() ?? null,
    changedAt: c.changedAt.toISOString(),
  });
}

export function createDeliveryActivities(deps: DeliveryDeps) {
  const { subscribers, secretBox } = deps;
  const timeoutMs = deps.requestTimeoutMs ?? 10_000;
  const pollMs = deps.pollIntervalMs ?? 250;

  async function post(subscriber: Subscriber, secret: string, change: DeliverableChange): Promise<void> {
    const body = deliveryBody(change);
    const details: DeliveryFailureDetails = { subscriberId: subscriber.id, tenantId: change.tenantId, cursor: change.cursor };
    let status: number;
    try {
      const response = await fetch(subscriber.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'economic-sync change feed',
          [SIGNATURE_HEADER]: signatureHeader(secret, body, Math.floor(Date.now() / 1000)),
          'economic-change-cursor': String(change.cursor),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      await response.body?.cancel().catch(() => {});
    } catch (err) {
      // Only the error's kind: the URL may carry a token of the subscriber's.
      const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw ApplicationFailure.create({ type: DELIVERY_FAILED, message: `change ${change.cursor}: subscriber not reached (${code})`, details: [details] });
    }
    if (status < 200 || status >= 300) {
      throw ApplicationFailure.create({ type: DELIVERY_FAILED, message: `change ${change.cursor}: subscriber answered ${status}`, details: [details] });
    }
  }

  return {
    async deliverChanges(input: DeliverChangesInput): Promise<DeliverChangesResult> {
      const idleUntil = Date.now() + (input.idleWaitMs ?? 60_000);
      let delivered = 0;
      for (;;) {
        const subscriber = await subscribers.get(input.subscriberId);
        if (!subscriber || subscriber.removedAt) return { delivered, removed: true };
        const secret = secretBox.decrypt(subscriber.secretEncrypted);
        // Dead letters an operator asked to replay go first.
        for (const change of await subscribers.replayable(subscriber.id, BATCH)) {
          Context.current().heartbeat();
          await post(subscriber, secret, change);
          await subscribers.replayDelivered(subscriber.id, change.cursor);
          delivered += 1;
        }
        const pending = await subscribers.pending(subscriber, BATCH);
        for (const change of pending) {
          Context.current().heartbeat();
          await post(subscriber, secret, change);
          await subscribers.advance(subscriber.id, change.tenantId, change.cursor);
          delivered += 1;
        }
        if (delivered > 0 || Date.now() >= idleUntil) return { delivered };
        Context.current().heartbeat();
        // Activity sleep: ends early (and throws) when the activity is cancelled.
        await sleep(pollMs);
      }
    },
  };
}

/** Dead-lettering: database-only bookkeeping of the delivery workflow. */
export function createDeadLetterActivity(deps: { subscribers: SubscriberStore }) {
  return {
    async deadLetterChange(input: DeliveryFailureDetails & { error: string }): Promise<void> {
      await deps.subscribers.deadLetter(input.subscriberId, input.tenantId, input.cursor, input.error.slice(0, 500));
    },
  };
}
