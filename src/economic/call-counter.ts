// Counts e-conomic calls per agreement and endpoint template (fair use is ~50,000 calls per agreement per day).

export interface CallCounterEntry {
  total: number;
  byEndpoint: Record<string, number>;
}

export class CallCounter {
  private readonly counts = new Map<string, Map<string, number>>();

  /** `onRecord` sees every call as it is counted (the service feeds its Prometheus counter from it). */
  constructor(private readonly onRecord?: (agreementKey: string, endpointTemplate: string) => void) {}

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
