import type { Redis } from 'ioredis';
import {
  encodeMessage,
  ExchangeAborted,
  messageShapes,
  RedisPeerExchange,
  runKeys,
  type ExchangeRules,
} from '@mat/exchange';
import { deleteRun, newRedis, uniqueRunId } from './redis-helpers';

// Needs Redis on 127.0.0.1:6379 (scripts/ensure-redis.sh).
describe('RedisPeerExchange', () => {
  let redis: Redis;
  let runId: string;
  let rules: ExchangeRules;
  const open: RedisPeerExchange[] = [];
  const logged: string[] = [];
  const exchange = (peer: number, generation = 1) => {
    const ex = new RedisPeerExchange(redis, peer, rules, {
      generation,
      pollMs: 50,
      ttlMs: 60000,
      log: (reason) => logged.push(reason),
    });
    open.push(ex);
    return ex;
  };
  const tensor = (seed: number, shape: number[]) => ({
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(seed + i)),
  });

  beforeEach(() => {
    redis = newRedis();
    runId = uniqueRunId('rx');
    rules = {
      runId,
      peerCount: 3,
      shapes: messageShapes({ peerCount: 3, batchSize: 4, imageShape: [3, 3, 1], numClasses: 5 }),
    };
    logged.length = 0;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((ex) => ex.close()));
    await deleteRun(redis, runId);
    redis.disconnect();
  });

  it('delivers each peer exactly the tensors published to it, and deletes its inbox after reading', async () => {
    const [a, b, c] = [exchange(0), exchange(1), exchange(2)];
    const adv = (p: number) => tensor(p, [4, 3, 3, 1]);
    await Promise.all(
      [a, b, c].map((ex, p) =>
        ex.publish(
          'adv',
          3,
          adv(p),
          [0, 1, 2].filter((j) => j !== p),
        ),
      ),
    );
    const key = runKeys(runId).inbox(1, 3, 'adv', 1);
    expect(await redis.llen(key)).toBe(2);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60000);
    const got = await b.receive('adv', 3, [0, 2]);
    expect([...got.keys()].sort()).toEqual([0, 2]);
    expect(Array.from(got.get(2)!.data)).toEqual(Array.from(adv(2).data));
    expect(got.get(0)!.shape).toEqual([4, 3, 3, 1]);
    expect(await redis.exists(key)).toBe(0);
    // Labels of the same step travel in their own inbox.
    await a.publish('labels', 3, tensor(9, [3, 4, 5]), [1]);
    expect(Array.from((await b.receive('labels', 3, [0])).get(0)!.data)).toEqual(
      Array.from(tensor(9, [3, 4, 5]).data),
    );
    expect(logged).toEqual([]);
  });

  it('rejects bad messages in an inbox with a logged reason and still takes the valid one', async () => {
    const b = exchange(1, 4);
    const key = runKeys(runId).inbox(4, 6, 'adv', 1);
    const header = { run: runId, gen: 4, step: 6, peer: 0, kind: 'adv' as const, shape: [4, 3, 3, 1] };
    const good = tensor(1, [4, 3, 3, 1]);
    const nan = tensor(1, [4, 3, 3, 1]);
    nan.data[5] = NaN;
    const valid = encodeMessage(header, good, '');
    const bad = [
      Buffer.from('garbage'),
      valid.subarray(0, valid.length - 10),
      Buffer.alloc(rules.shapes.adv.reduce((x, y) => x * y) * 4 + 5000),
      encodeMessage(header, nan, ''),
      encodeMessage({ ...header, run: 'another-run' }, good, ''),
      encodeMessage({ ...header, step: 5 }, good, ''),
      encodeMessage({ ...header, gen: 3 }, good, ''),
    ];
    await redis.rpush(key, ...bad, valid);
    const got = await b.receive('adv', 6, [0]);
    expect(Array.from(got.get(0)!.data)).toEqual(Array.from(good.data));
    expect(logged).toEqual([
      expect.stringMatching(/malformed/),
      expect.stringMatching(/malformed or truncated/),
      expect.stringMatching(/oversized/),
      expect.stringMatching(/non-finite/),
      expect.stringMatching(/wrong run/),
    ]);
    // Logging is rate-limited (a few a minute): the rest are counted, not logged.
    expect(b.rejected).toBe(bad.length);
  });

  it('keeps generations apart and gives up a wait when its signal fires', async () => {
    const [a, b] = [exchange(0, 1), exchange(1, 2)];
    await a.publish('adv', 0, tensor(0, [4, 3, 3, 1]), [1]); // generation 1: never seen by generation 2
    const abort = new AbortController();
    setTimeout(() => abort.abort('new generation'), 300);
    await expect(b.receive('adv', 0, [0], abort.signal)).rejects.toBeInstanceOf(ExchangeAborted);
    a.setGeneration(2);
    await a.publish('adv', 0, tensor(7, [4, 3, 3, 1]), [1]);
    expect(Array.from((await b.receive('adv', 0, [0])).get(0)!.data)).toEqual(
      Array.from(tensor(7, [4, 3, 3, 1]).data),
    );
  });
});
