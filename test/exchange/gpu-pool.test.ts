import type { Redis } from 'ioredis';
import { GpuPool, gpuPoolKey } from '@mat/exchange';
import { newRedis, uniqueRunId } from './redis-helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const who = (holder: string) => ({ holder, host: 'h', pid: 1 });

// Needs Redis on 127.0.0.1:6379 (scripts/ensure-redis.sh).
describe('GpuPool (the leases behind mat worker --gpu auto)', () => {
  let redis: Redis;
  let pool: GpuPool;
  const devices = ['0', '1'];

  beforeEach(() => {
    redis = newRedis();
    pool = new GpuPool(redis, uniqueRunId('pool'));
  });
  afterEach(async () => {
    await redis.del(pool.key);
    redis.disconnect();
  });

  it('is one hash per pool name, like the other keys', () => {
    expect(pool.key).toBe(gpuPoolKey(pool.name));
    expect(pool.key).toMatch(/^mat:gpus:\{test-pool-/);
  });

  it('gives each holder the lowest free device; none when all are held; the same again to its holder', async () => {
    expect(await pool.claim(devices, who('a'), 60000)).toBe('0');
    expect(await pool.claim(devices, who('b'), 60000)).toBe('1');
    expect(await pool.claim(devices, who('c'), 60000)).toBeUndefined();
    expect(await pool.claim(devices, who('b'), 60000)).toBe('1');
    const leases = await pool.read();
    expect([...leases.keys()].sort()).toEqual(['0', '1']);
    expect(leases.get('0')).toMatchObject({ holder: 'a', host: 'h', pid: 1, leaseUntil: expect.any(Number) });
    // Device order is the preference order.
    expect(await pool.claim(['1', '0', '7'], who('c'), 60000)).toBe('7');
  });

  it('a released device is free at once; only its holder can release it', async () => {
    await pool.claim(devices, who('a'), 60000);
    await pool.claim(devices, who('b'), 60000);
    expect(await pool.release('0', 'b')).toBe(false);
    expect(await pool.release('0', 'a')).toBe(true);
    expect(await pool.claim(devices, who('c'), 60000)).toBe('0');
  });

  it('a lease that is not renewed runs out: another holder takes the device, the old one learns it lost it', async () => {
    expect(await pool.claim(devices, who('dead'), 200)).toBe('0');
    expect(await pool.claim(devices, who('alive'), 200)).toBe('1');
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      expect(await pool.renew('1', who('alive'), 200)).toBe(true);
    }
    // 'dead' renewed nothing for 400 ms: its device is the free one, 'alive' keeps its own.
    expect(await pool.claim(devices, who('restarted'), 60000)).toBe('0');
    expect(await pool.renew('0', who('dead'), 200)).toBe(false);
    expect((await pool.read()).get('0')?.holder).toBe('restarted');
  });

  it('claiming from no devices holds nothing', async () => {
    expect(await pool.claim([], who('a'), 1000)).toBeUndefined();
    expect(await redis.exists(pool.key)).toBe(0);
  });
});
