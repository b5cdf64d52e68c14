import type { RunState, RunStore } from '@mat/exchange';

/**
 * The worker's one reader of its run's state key. Whoever needs the state (the main loop, the watch of a
 * step that waits for its peers, the check at a step boundary) reads it here; reads that overlap share one
 * round trip, so the key has one poller however many places look at it.
 */
export class RunStatePoller {
  private inflight: Promise<RunState | undefined> | undefined;

  constructor(private readonly store: RunStore) {}

  read(): Promise<RunState | undefined> {
    this.inflight ??= this.store.readState().finally(() => (this.inflight = undefined));
    return this.inflight;
  }
}
