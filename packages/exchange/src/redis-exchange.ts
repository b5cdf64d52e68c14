import type { Redis } from 'ioredis';
import { encodeMessage } from './message-codec';
import { MessageInbox } from './message-inbox';
import {
  ExchangeAborted,
  stderrRejectLog,
  type CollectOptions,
  type ExchangeRules,
  type MessageKind,
  type ReceivedMessage,
  type PeerExchange,
  type RejectLog,
  type TensorPayload,
} from './peer-exchange';
import { duplicateRedis } from './redis-connection';
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
 * Blocking pops use their own connection, so publishing never waits behind a receive. With bounded
 * staleness, collect() pops the inboxes of a window of steps instead of one.
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
    this.blocking = duplicateRedis(redis, `mat-exchange-${rules.runId}-p${peer}`);
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
      this.rules.secret ?? '',
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

  /**
   * Bounded staleness: pops every inbox list of the window (both kinds), then, with `wait` and nothing
   * valid, blocks on all of them at once (BLPOP takes several keys). The lists keep their expiry.
   */
  async collect(steps: readonly [number, number], opts: CollectOptions = {}): Promise<ReceivedMessage[]> {
    const until = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    const generation = this.inbox.generation;
    const inboxes: Array<{ key: string; step: number; kind: MessageKind }> = [];
    // Labels before adv: a sender publishes x'(u) before any labels that depend on its step u, so once
    // such labels are popped, the x'(u) they imply is popped in the same pass (lists have no common order).
    for (const kind of ['labels', 'adv'] as const satisfies readonly MessageKind[]) {
      for (let step = Math.max(0, steps[0]); step <= steps[1]; step++)
        inboxes.push({ key: this.keys.inbox(generation, step, kind, this.peer), step, kind });
    }
    const offer = (i: number, bytes: Buffer) =>
      this.inbox.offer(
        bytes,
        { steps: [inboxes[i].step, inboxes[i].step], kind: inboxes[i].kind },
        inboxes[i].key,
      );
    // Nothing before the window is accepted any more; a duplicate of it is rejected by its step.
    this.inbox.forgetAcceptedBefore(steps[0]);
    for (;;) {
      const tx = this.redis.pipeline();
      for (const { key } of inboxes) tx.lpopBuffer(key, 1000);
      const popped = (await tx.exec()) ?? [];
      popped.forEach(([err, list], i) => {
        if (err) throw err;
        for (const bytes of (list as Buffer[] | null) ?? []) offer(i, bytes);
      });
      const got = this.inbox.takeRange(steps[0], steps[1]);
      if (got.length > 0 || !opts.wait) return got;
      if (opts.signal?.aborted) throw new ExchangeAborted(opts.signal.reason);
      const left = (until - Date.now()) / 1000;
      if (left <= 0) return got;
      const keys = inboxes.map((b) => b.key);
      // BLPOP blocks forever on a timeout that rounds to 0 ms.
      const one = await this.blocking.blpopBuffer(...keys, Math.max(0.01, Math.min(this.pollSeconds, left)));
      if (one) offer(keys.indexOf(one[0].toString()), one[1]);
    }
  }

  setGeneration(generation: number): void {
    this.inbox.reset(generation);
  }

  async close(): Promise<void> {
    this.blocking.disconnect();
  }
}
