import { RateLimit } from './contracts/contract';
import { decodeMessage, MessageRejected, type Expectation } from './message-codec';
import type { ExchangeRules, MessageKind, ReceivedMessage, RejectLog, TensorPayload } from './peer-exchange';

/**
 * The messages a peer has received and validated but not yet used, keyed by (kind, step, sender). Both
 * exchanges feed raw bytes in through offer(); only messages that pass decodeMessage are kept. The first
 * valid message of a (kind, step, sender) wins; a later one with the same MAC (the same message again) is
 * ignored, a later one that differs is rejected: a sender that has the secret never sends two different
 * tensors for one step, so that is an error worth a warning, not something to keep silently. Rejections are
 * counted and logged with their reason, sender and step, at most a few per minute (RateLimit), with the
 * number held back.
 */
export class MessageInbox {
  private readonly messages = new Map<string, TensorPayload>();
  /** MAC of the first accepted message of each key of the window (kept after take(), until dropBefore). */
  private readonly accepted = new Map<string, Buffer>();
  private waiters: Array<() => void> = [];
  private readonly logLimit: RateLimit;
  generation = 0;
  rejected = 0;

  constructor(
    private readonly rules: ExchangeRules,
    private readonly log: RejectLog,
    private readonly receiver: number,
    opts: { logLimit?: RateLimit } = {},
  ) {
    this.logLimit = opts.logLimit ?? new RateLimit(5, 60_000);
  }

  /** Validates and stores one message; returns whether it was kept. */
  offer(bytes: Uint8Array, expect: Omit<Expectation, 'generation'>, source: string): boolean {
    let message;
    try {
      message = decodeMessage(bytes, this.rules, { ...expect, generation: this.generation });
    } catch (err) {
      if (!(err instanceof MessageRejected)) throw err;
      this.reject(err.message, err.claimed, source, bytes);
      return false;
    }
    const key = keyOf(message.kind, message.step, message.peer);
    const first = this.accepted.get(key);
    if (first) {
      if (!first.equals(message.mac)) {
        this.reject(
          `conflicting duplicate: ${message.kind} of step ${message.step} from peer ${message.peer} differs from the one accepted first (kept the first)`,
          { sender: message.peer, step: message.step, kind: message.kind },
          source,
          bytes,
        );
      }
      return false;
    }
    this.accepted.set(key, message.mac);
    this.messages.set(key, { shape: message.shape, data: message.data });
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    return true;
  }

  private reject(
    reason: string,
    claimed: { sender?: number; step?: number; kind?: string },
    source: string,
    bytes: Uint8Array,
  ): void {
    this.rejected++;
    const held = this.logLimit.take();
    if (held === undefined) return;
    this.log(reason, {
      run: this.rules.runId,
      receiver: this.receiver,
      ...claimed,
      source,
      bytes: bytes?.length,
      rejectedSoFar: this.rejected,
      ...(held > 0 && { notLogged: held }),
    });
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
    for (const key of this.messages.keys()) if (stepOf(key) < step) this.messages.delete(key);
    for (const key of this.accepted.keys()) if (stepOf(key) < step) this.accepted.delete(key);
  }

  /** Forgets the MACs of accepted messages older than `step` (what dropBefore does, without the messages). */
  forgetAcceptedBefore(step: number): void {
    for (const key of this.accepted.keys()) if (stepOf(key) < step) this.accepted.delete(key);
  }

  reset(generation: number): void {
    this.generation = generation;
    this.messages.clear();
    this.accepted.clear();
  }

  get size(): number {
    return this.messages.size;
  }
}

const keyOf = (kind: MessageKind, step: number, peer: number) => `${kind}:${step}:${peer}`;
const stepOf = (key: string) => Number(key.split(':')[1]);
