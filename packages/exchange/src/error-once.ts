/**
 * Logs an error once until it changes or a success clears it: a Redis outage, or a run state that cannot be
 * read, is one line, not one per poll (the worker's step watch, the coordinator's tick).
 */
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
