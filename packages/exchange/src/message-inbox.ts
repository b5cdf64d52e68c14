import { decodeMessage, MessageRejected, type Expectation } from './message-codec';
import type { ExchangeRules, MessageKind, ReceivedMessage, RejectLog, TensorPayload } from './peer-exchange';

/**
 * The messages a peer has received and validated but not yet used, keyed by (kind, step, sender). Both
 * exchanges feed raw bytes in through offer(); only messages that pass decodeMessage are kept, duplicates
 * are ignored, and rejected ones are logged with their reason and counted.
 */
export class MessageInbox {
  private readonly messages = new Map<string, TensorPayload>();
  private waiters: Array<() => void> = [];
  generation = 0;
  rejected = 0;

  constructor(
    private readonly rules: ExchangeRules,
    private readonly log: RejectLog,
    private readonly receiver: number,
  ) {}

  /** Validates and stores one message; returns whether it was kept. */
  offer(bytes: Uint8Array, expect: Omit<Expectation, 'generation'>, source: string): boolean {
    let message;
    try {
      message = decodeMessage(bytes, this.rules, { ...expect, generation: this.generation });
    } catch (err) {
      if (!(err instanceof MessageRejected)) throw err;
      this.rejected++;
      this.log(err.message, { run: this.rules.runId, receiver: this.receiver, source, bytes: bytes?.length });
      return false;
    }
    const key = keyOf(message.kind, message.step, message.peer);
    if (this.messages.has(key)) return false;
    this.messages.set(key, { shape: message.shape, data: message.data });
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    return true;
  }

  /** The messages of `kind` at `step` from `from`, if all are here. */
  take(kind: MessageKind, step: number, from: readonly number[]): Map<number, TensorPayload> | undefined {
    if (!from.every((j) => this.messages.has(keyOf(kind, step, j)))) return undefined;
    const out = new Map<number, TensorPayload>();
    for (const j of from) {
      const key = keyOf(kind, step, j);
      out.set(j, this.messages.get(key)!);
      this.messages.delete(key);
    }
    return out;
  }

  /** Every message with a step in [lo, hi], removed from the inbox, oldest step first. */
  takeRange(lo: number, hi: number): ReceivedMessage[] {
    const out: ReceivedMessage[] = [];
    for (const [key, tensor] of this.messages) {
      const [kind, step, from] = key.split(':');
      if (Number(step) < lo || Number(step) > hi) continue;
      out.push({ kind: kind as MessageKind, step: Number(step), from: Number(from), tensor });
      this.messages.delete(key);
    }
    return out.sort((a, b) => a.step - b.step || a.from - b.from);
  }

  /** Resolves at the next accepted message (or when `signal` fires, or after `timeoutMs`). */
  next(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => wake(), timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve();
      };
      this.waiters.push(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  /** Forgets everything older than `step` (and everything, at a new generation). */
  dropBefore(step: number): void {
    for (const key of this.messages.keys()) if (Number(key.split(':')[1]) < step) this.messages.delete(key);
  }

  reset(generation: number): void {
    this.generation = generation;
    this.messages.clear();
  }

  get size(): number {
    return this.messages.size;
  }
}

const keyOf = (kind: MessageKind, step: number, peer: number) => `${kind}:${step}:${peer}`;
