import type { Redis } from 'ioredis';
import {
  connectRedis,
  messageShapes,
  RedisPeerExchange,
  redisConnectionFromEnv,
  redisOptions,
  RunStore,
  type ExchangeRules,
} from '@mat/exchange';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from './redis-helpers';
import { SilentProxy } from './silent-proxy';

/**
 * A Redis that vanishes without closing its connections (a container restarted while its network is torn
 * down) leaves every client's socket open and silent. A command waiting on such a socket must not wait for
 * ever: the connection is taken as dead after its socket timeout, made again, and the command sent again.
 * Seen as a run of the Compose test that hung for 20 minutes after `docker-compose restart redis`, with
 * no log line from any process.
 */
describe('a Redis connection that goes silent', () => {
  const SOCKET_TIMEOUT_MS = 1500;
  let proxy: SilentProxy;
  let direct: Redis;
  let client: Redis;
  let runId: string;

  beforeEach(async () => {
    const target = new URL(REDIS_URL);
    proxy = await SilentProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    direct = newRedis();
    client = await connectRedis(
      { url: proxy.url, socketTimeoutMs: SOCKET_TIMEOUT_MS },
      { name: 'silent-test' },
    );
    runId = uniqueRunId('silent');
  });
  afterEach(async () => {
    client.disconnect();
    await deleteRun(direct, runId);
    direct.disconnect();
    await proxy.close();
  });

  /** `promise`, or an error naming `what` after `ms` (the test fails instead of hanging). */
  const within = <T>(ms: number, what: string, promise: Promise<T>) =>
    Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref(),
      ),
    ]);

  it('a blocked receive of the exchange gets the message published after the silence', async () => {
    const rules: ExchangeRules = {
      runId,
      peerCount: 2,
      shapes: messageShapes({ peerCount: 2, batchSize: 2, imageShape: [2, 2, 1], numClasses: 3 }),
    };
    const receiver = new RedisPeerExchange(client, 1, rules, { generation: 1, pollMs: 250 });
    const sender = new RedisPeerExchange(direct, 0, rules, { generation: 1 });
    try {
      const received = receiver.receive('adv', 4, [0]);
      await new Promise((r) => setTimeout(r, 600)); // the receive is blocked in BLPOP now
      const before = proxy.accepted;
      proxy.silence();
      const data = Float32Array.from({ length: 8 }, (_, i) => i / 8);
      await sender.publish('adv', 4, { shape: [2, 2, 2, 1], data }, [1]);
      const got = await within(10 * SOCKET_TIMEOUT_MS, 'the receive', received);
      expect(Array.from(got.get(0)!.data)).toEqual(Array.from(data));
      expect(proxy.accepted).toBeGreaterThan(before); // it connected again
    } finally {
      await receiver.close();
      await sender.close();
    }
  });

  it('a command of the run store sent on the silent connection is answered through a new one', async () => {
    const store = new RunStore(client, runId);
    await store.discardState(); // connected, and the connection has answered once
    proxy.silence();
    await direct.hset(`${store.keys.state}`, 'probe', '1');
    const h = await within(10 * SOCKET_TIMEOUT_MS, 'HGETALL', client.hgetall(store.keys.state));
    expect(h).toEqual({ probe: '1' });
  });

  it('the timeout is on every connection made from the settings, and a bad one in the environment is named', () => {
    expect(redisOptions({}).socketTimeout).toBe(30_000);
    expect(redisOptions({ socketTimeoutMs: 20_000 }).socketTimeout).toBe(20_000);
    const saved = process.env.MAT_REDIS_SOCKET_TIMEOUT_MS;
    try {
      process.env.MAT_REDIS_SOCKET_TIMEOUT_MS = '60000';
      expect(redisConnectionFromEnv().socketTimeoutMs).toBe(60_000);
      process.env.MAT_REDIS_SOCKET_TIMEOUT_MS = '500';
      expect(() => redisConnectionFromEnv()).toThrow(
        /MAT_REDIS_SOCKET_TIMEOUT_MS must be .* >= 15000 \(got "500"\)/,
      );
    } finally {
      if (saved === undefined) delete process.env.MAT_REDIS_SOCKET_TIMEOUT_MS;
      else process.env.MAT_REDIS_SOCKET_TIMEOUT_MS = saved;
    }
  });
});
