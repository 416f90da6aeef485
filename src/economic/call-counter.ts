// Counts e-conomic calls per agreement and endpoint template (fair use is ~50,000 calls per agreement per day),
// and tells an observer how each call ended and how long it took: the service's metrics show an e-conomic
// that slows down, throttles or fails (README.md, "Operating it": Endpoints) before the syncs' retries do.

export interface CallCounterEntry {
  total: number;
  byEndpoint: Record<string, number>;
}

/**
 * How a call ended: its HTTP status class, or why there was none (`timeout`: our timeout fired; `cancelled`:
 * the caller gave up, e.g. a cancelled activity; `network`: no answer for another reason).
 */
export type CallOutcome = 'ok' | 'not_found' | 'unauthorized' | 'forbidden' | 'rate_limited' | 'client_error' | 'server_error' | 'timeout' | 'cancelled' | 'network';

export function outcomeOfStatus(status: number): CallOutcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 404) return 'not_found';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'rate_limited';
  return status >= 500 ? 'server_error' : 'client_error';
}

export class CallCounter {
  private readonly counts = new Map<string, Map<string, number>>();

  /**
   * `onRecord` sees every call as it is counted, before it is sent (the service feeds its Prometheus counter
   * and its in-flight gauge from it); `onAnswered` sees it end, with its outcome and duration in seconds.
   */
  constructor(
    private readonly onRecord?: (agreementKey: string, endpointTemplate: string) => void,
    private readonly onAnswered?: (endpointTemplate: string, outcome: CallOutcome, seconds: number) => void,
  ) {}

  answered(endpointTemplate: string, outcome: CallOutcome, seconds: number): void {
    this.onAnswered?.(endpointTemplate, outcome, seconds);
  }

  record(agreementKey: string, endpointTemplate: string): void {
    this.onRecord?.(agreementKey, endpointTemplate);
    let perEndpoint = this.counts.get(agreementKey);
    if (!perEndpoint) {
      perEndpoint = new Map();
      this.counts.set(agreementKey, perEndpoint);
    }
    perEndpoint.set(endpointTemplate, (perEndpoint.get(endpointTemplate) ?? 0) + 1);
  }

  total(agreementKey: string): number {
    let sum = 0;
    for (const n of this.counts.get(agreementKey)?.values() ?? []) sum += n;
    return sum;
  }

  byEndpoint(agreementKey: string): Record<string, number> {
    return Object.fromEntries(this.counts.get(agreementKey) ?? []);
  }

  snapshot(): Record<string, CallCounterEntry> {
    const out: Record<string, CallCounterEntry> = {};
    for (const key of this.counts.keys()) out[key] = { total: this.total(key), byEndpoint: this.byEndpoint(key) };
    return out;
  }

  reset(agreementKey?: string): void {
    if (agreementKey === undefined) this.counts.clear();
    else this.counts.delete(agreementKey);
  }
}
