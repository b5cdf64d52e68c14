import { Redis } from 'ioredis';
import { RUNS_INDEX_KEY, runKeys } from '@mat/exchange';

/**
 * Writes a run into Redis the way the coordinator and the workers do (keys of @mat/exchange redis-keys.ts),
 * so that the dashboard can be tested without training anything. Every test uses its own run id.
 */

export const REDIS_URL = process.env.MAT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const uniqueRunId = (tag: string) =>
  `test-dash-${tag}-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;

/** A loss that falls and accuracies that rise with the step, different per peer, so curves differ. */
export function stepEntry(peer: number, step: number) {
  const loss = 2.3 / (1 + 0.15 * step) + 0.05 * peer;
  return {
    type: 'step',
    peer,
    step,
    loss,
    base: 0.7 * loss,
    distill: 0.3 * loss,
    advAccuracy: Math.min(0.9, 0.1 + 0.03 * step + 0.01 * peer),
    lr: 0.1,
    stepSeconds: 0.8 + 0.05 * peer + 0.01 * (step % 3),
    exchangeSeconds: 0.012 + 0.002 * peer + 0.001 * (step % 4),
  };
}

export function evalEntry(peer: number, step: number) {
  return {
    type: 'eval',
    peer,
    step,
    cleanAccuracy: Math.min(0.95, 0.3 + 0.04 * step - 0.01 * peer),
    robustAccuracy: Math.min(0.6, 0.1 + 0.02 * step + 0.005 * peer),
    count: 1000,
  };
}

export class FakeRun {
  readonly keys;

  constructor(
    readonly redis: Redis,
    readonly id: string,
  ) {
    this.keys = runKeys(id);
  }

  async create(peers: number, extra: Record<string, string> = {}) {
    const now = Date.now();
    await this.redis.sadd(RUNS_INDEX_KEY, this.id);
    await this.redis.set(
      this.keys.config,
      JSON.stringify({
        peers,
        dataset: { name: 'fashion-mnist' },
        model: { name: 'fmnist-cnn' },
        redis: { url: 'redis://x', password: 'must-not-show' },
      }),
    );
    await this.redis.hset(this.keys.state, {
      status: 'running',
      step: '0',
      peers: String(peers),
      checkpointStep: '0',
      createdAt: String(now),
      updatedAt: String(now),
      ...extra,
    });
  }

  /** XADD one entry (field `m` = JSON), as a worker publishes its metrics. */
  add(entry: object): Promise<string | null> {
    return this.redis.xadd(this.keys.metrics, '*', 'm', JSON.stringify(entry));
  }

  /** Steps `from..to` (inclusive) of every peer, with an evaluation every `evalEvery` steps. */
  async addSteps(peers: number, from: number, to: number, evalEvery = 5) {
    for (let step = from; step <= to; step++)
      for (let peer = 0; peer < peers; peer++) {
        await this.add(stepEntry(peer, step));
        if (step % evalEvery === 0) await this.add(evalEntry(peer, step));
      }
    await this.redis.hset(this.keys.state, { step: String(to), updatedAt: String(Date.now()) });
  }

  /** A worker's heartbeat record, written `ageMs` ago. */
  async heartbeat(workerId: string, peer: number | null, ageMs: number, status = 'training') {
    await this.redis.hset(
      this.keys.workers,
      workerId,
      JSON.stringify({
        workerId,
        host: 'node-a',
        pid: 4242,
        peer,
        backend: 'cpu',
        lastHeartbeat: Date.now() - ageMs,
        status,
        stepSeconds: 0.8,
      }),
    );
    if (peer !== null)
      await this.redis.hset(
        this.keys.slots,
        String(peer),
        JSON.stringify({ workerId, leaseUntil: Date.now() + 10000, step: 0, status: 'training' }),
      );
  }

  async remove() {
    await this.redis.srem(RUNS_INDEX_KEY, this.id);
    await this.redis.del(
      this.keys.config,
      this.keys.state,
      this.keys.slots,
      this.keys.workers,
      this.keys.metrics,
    );
  }
}
