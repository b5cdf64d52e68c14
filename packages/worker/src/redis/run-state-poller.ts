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

/** Logs an error once until it changes or a success clears it: a Redis outage is one line, not one per poll. */
export class ErrorOnce {
  private last: string | undefined;

  constructor(private readonly log: (message: string) => void) {}

  report(what: string, err: unknown): void {
    const message = `${what}: ${(err as Error).message ?? String(err)}`;
    if (message !== this.last) this.log(message);
    this.last = message;
  }

  clear(): void {
    this.last = undefined;
  }
}
