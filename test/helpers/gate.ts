// A promise a test settles by hand: what the fake e-conomic's `held` fault waits for (`until`), so a test
// holds an answer until it has seen what it wants to see, then lets it go.

export interface Gate {
  until: Promise<void>;
  release(): void;
}

export function gate(): Gate {
  let release!: () => void;
  const until = new Promise<void>((resolve) => (release = resolve));
  return { until, release };
}
