import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type { Redis } from 'ioredis';
import { encodeMessage, RedisPeerExchange, runKeys } from '@mat/exchange';
import { deleteRun, newRedis, uniqueRunId } from '../exchange/redis-helpers';
import { expectBoundedStaleness, runStale, staleConfig, staleRules } from './stale-harness';

// Needs Redis on 127.0.0.1:6379 (scripts/ensure-redis.sh).
describe('StalePeer (train.maxStaleness > 0) over Redis', () => {
  let redis: Redis;
  let runId: string;
  const logged: string[] = [];
  const open: RedisPeerExchange[] = [];
  const exchanges = (peers: number) =>
    Array.from({ length: peers }, (_, p) => {
      const ex = new RedisPeerExchange(redis, p, staleRules(runId, peers), {
        generation: 1,
        pollMs: 50,
        ttlMs: 60000,
        log: (reason) => logged.push(reason),
      });
      open.push(ex);
      return ex;
    });

  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  beforeEach(() => {
    redis = newRedis();
    runId = uniqueRunId('stale');
    logged.length = 0;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((ex) => ex.close()));
    await deleteRun(redis, runId);
    redis.disconnect();
  });

  it('3 peers, s = 2, one held back: the others lead by at most s steps, the run finishes', async () => {
    const s = 2;
    const steps = 3 * s + 4;
    const result = await runStale({ config: staleConfig(3, s), steps, slow: 1, exchanges: exchanges(3) });
    expect(logged).toEqual([]);
    expectBoundedStaleness(result, { s, steps, slow: 1 });
    // Whatever was published and never collected still expires.
    const keys = await redis.keys(`${runKeys(runId).dataPrefix}:*`);
    for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it('collect() takes a window of steps of both kinds, and rejects and logs bad messages', async () => {
    const [a, b] = exchanges(2);
    const tensor = { shape: [5, 4, 4, 1], data: new Float32Array(80).fill(0.25) };
    const labels = { shape: [2, 5, 3], data: new Float32Array(30).fill(0.5) };
    await b.publish('adv', 4, tensor, [0]);
    await b.publish('labels', 5, labels, [0]);
    await b.publish('adv', 9, tensor, [0]); // outside the window: stays in Redis, with its expiry
    const header = { run: runId, gen: 1, step: 5, peer: 1, kind: 'adv' as const, shape: tensor.shape };
    const inbox = runKeys(runId).inbox(1, 5, 'adv', 0);
    await redis.rpush(inbox, encodeMessage({ ...header, gen: 2 }, tensor, ''));
    await redis.rpush(inbox, encodeMessage({ ...header, step: 6 }, tensor, ''));
    await redis.rpush(inbox, Buffer.from('garbage'));
    const got = await a.collect([3, 6], { wait: true });
    expect(got.map((m) => [m.kind, m.step, m.from])).toEqual([
      ['adv', 4, 1],
      ['labels', 5, 1],
    ]);
    expect(logged).toEqual([
      expect.stringMatching(/wrong generation 2/),
      expect.stringMatching(/wrong step 6 \(expected 5\)/),
      expect.stringMatching(/malformed or truncated/),
    ]);
    expect(await redis.pttl(runKeys(runId).inbox(1, 9, 'adv', 0))).toBeGreaterThan(0);
    expect(await a.collect([3, 6], { wait: true, timeoutMs: 100 })).toEqual([]);
  });
});
