import type { Redis } from 'ioredis';
import { encodeMessage } from './message-codec';
import { MessageInbox } from './message-inbox';
import {
  ExchangeAborted,
  stderrRejectLog,
  type ExchangeRules,
  type MessageKind,
  type PeerExchange,
  type RejectLog,
  type TensorPayload,
} from './peer-exchange';
import { runKeys } from './redis-keys';

export interface RedisExchangeOptions {
  generation: number;
  /** Unread messages expire after this long (a receiver that died never collects them). @defaultValue 30 min */
  ttlMs?: number;
  /** How often a blocked receive checks its AbortSignal. @defaultValue 250 ms */
  pollMs?: number;
  log?: RejectLog;
}

/**
 * The Redis data plane. Every (generation, step, kind, receiver) has an inbox list (redis-keys.ts):
 * publish() RPUSHes one copy of the encoded message per receiver and sets the list's expiry, in one
 * MULTI; receive() BLPOPs its own inbox until it holds a valid message from every sender, then deletes
 * the list. Messages are binary msgpack (message-codec.ts) — never JSON — and are validated on arrival.
 * Blocking pops use their own connection, so publishing never waits behind a receive.
 */
export class RedisPeerExchange implements PeerExchange {
  private readonly inbox: MessageInbox;
  private readonly blocking: Redis;
  private readonly keys: ReturnType<typeof runKeys>;
  private readonly ttlMs: number;
  private readonly pollSeconds: number;

  constructor(
    private readonly redis: Redis,
    readonly peer: number,
    private readonly rules: ExchangeRules,
    opts: RedisExchangeOptions,
  ) {
    this.inbox = new MessageInbox(rules, opts.log ?? stderrRejectLog, peer);
    this.inbox.reset(opts.generation);
    this.blocking = redis.duplicate({ connectionName: `mat-exchange-${rules.runId}-p${peer}` });
    this.keys = runKeys(rules.runId);
    this.ttlMs = opts.ttlMs ?? 30 * 60 * 1000;
    this.pollSeconds = (opts.pollMs ?? 250) / 1000;
  }

  get rejected(): number {
    return this.inbox.rejected;
  }

  get generation(): number {
    return this.inbox.generation;
  }

  async publish(
    kind: MessageKind,
    step: number,
    tensor: TensorPayload,
    to: readonly number[],
  ): Promise<void> {
    if (to.length === 0) return;
    const generation = this.inbox.generation;
    const bytes = encodeMessage(
      { run: this.rules.runId, gen: generation, step, peer: this.peer, kind, shape: tensor.shape },
      tensor,
    );
    const tx = this.redis.multi();
    for (const j of to) {
      const key = this.keys.inbox(generation, step, kind, j);
      tx.rpush(key, bytes).pexpire(key, this.ttlMs);
    }
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed)
      throw new Error(`publishing ${kind} of step ${step} failed: ${failed?.[0] ?? 'aborted'}`);
  }

  async receive(
    kind: MessageKind,
    step: number,
    from: readonly number[],
    signal?: AbortSignal,
  ): Promise<Map<number, TensorPayload>> {
    const key = this.keys.inbox(this.inbox.generation, step, kind, this.peer);
    for (;;) {
      const got = this.inbox.take(kind, step, from);
      if (got) {
        this.inbox.dropBefore(step);
        await this.redis.del(key);
        return got;
      }
      if (signal?.aborted) throw new ExchangeAborted(signal.reason);
      const popped = await this.blocking.blpopBuffer(key, this.pollSeconds);
      if (popped) this.inbox.offer(popped[1], { steps: [step, step], kind }, key);
    }
  }

  setGeneration(generation: number): void {
    this.inbox.reset(generation);
  }

  async close(): Promise<void> {
    this.blocking.disconnect();
  }
}
