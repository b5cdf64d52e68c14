import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Redis } from 'ioredis';
import { GpuPool } from '@mat/exchange';
import { newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { assertBuilt, spawnMat, tinyConfig, waitFor, type MatProcess } from './helpers';
import { Topology } from './topology';

// Several processes per test: generous under a loaded CI machine (times are never asserted).
jest.setTimeout(300000);

/**
 * `mat worker --gpu auto` on a machine without GPUs: `--gpu-count` stands in for the GPUs, the pool of
 * leases is the real one in Redis, and what the backend would see is the worker's CUDA_VISIBLE_DEVICES.
 */
describe('mat worker --gpu auto: one GPU per worker from the pool of its machine', () => {
  let redis: Redis;
  let pool: GpuPool;
  const procs: MatProcess[] = [];

  beforeAll(() => assertBuilt());
  beforeEach(() => {
    redis = newRedis();
    pool = new GpuPool(redis, uniqueRunId('gpus'));
  });
  afterEach(async () => {
    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    procs.length = 0;
    await redis.del(pool.key);
    redis.disconnect();
  });

  /** A worker that takes a GPU, then waits for a run that does not exist (it keeps its lease meanwhile). */
  const waitingWorker = () => {
    const p = spawnMat([
      'worker',
      '--run',
      uniqueRunId('absent'),
      '--join-timeout',
      '600',
      '--lease-ms',
      '1000',
      '--gpu',
      'auto',
      '--gpu-count',
      '2',
      '--gpu-pool',
      pool.name,
      '--redis-url',
      REDIS_URL,
    ]);
    procs.push(p);
    return p;
  };
  const holders = async () =>
    new Map([...(await pool.read())].map(([device, lease]) => [device, lease.pid] as [string, number]));

  it('three workers, two GPUs: distinct GPUs, one spare that takes the GPU of a killed worker once its lease runs out', async () => {
    const workers = [waitingWorker(), waitingWorker(), waitingWorker()];
    const held = await waitFor(async () => {
      const h = await holders();
      return h.size === 2 && h;
    }, 'two GPU leases');
    const byPid = (pid: number | undefined) => workers.find((w) => w.child.pid === pid)!;
    const [first, second] = [byPid(held.get('0')), byPid(held.get('1'))];
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(first).not.toBe(second);
    const spare = workers.find((w) => w !== first && w !== second)!;
    await waitFor(() => /waiting as a spare/.test(spare.output()), 'the spare to say it waits');
    await waitFor(() => /CUDA_VISIBLE_DEVICES=0/.test(first.output()), 'the first worker to report its GPU');
    expect(first.output()).toContain(
      `GPU 0 of pool "${pool.name}" (2 from --gpu-count): CUDA_VISIBLE_DEVICES=0`,
    );
    await waitFor(
      () => /CUDA_VISIBLE_DEVICES=1/.test(second.output()),
      'the second worker to report its GPU',
    );

    // kill -9: no release; the lease runs out (1 s) and the spare takes GPU 0.
    first.child.kill('SIGKILL');
    await waitFor(async () => (await holders()).get('0') === spare.child.pid, 'the spare to hold GPU 0');
    await waitFor(() => /CUDA_VISIBLE_DEVICES=0/.test(spare.output()), 'the spare to report GPU 0');
    expect((await holders()).get('1')).toBe(second.child.pid);

    // SIGTERM: the worker gives its GPU back as it exits.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output()).toMatch(/SIGTERM before joining a run: releasing the GPU/);
    expect([...(await holders()).keys()]).toEqual(['0']);
  });

  it('a real run: each worker loads its backend with the CUDA_VISIBLE_DEVICES of its lease, and releases it at the end', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-gpu-auto-'));
    const config = tinyConfig(dir, uniqueRunId('gpu'), 2, {
      train: { epochs: 1, batchSize: 8, maxSteps: 8, checkpointEvery: 4 },
    });
    const topology = new Topology(config, REDIS_URL);
    try {
      const coordinator = topology.startCoordinator();
      const gpuArgs = ['--gpu', 'auto', '--gpu-count', '2', '--gpu-pool', pool.name];
      topology.startWorker(gpuArgs);
      topology.startWorker(gpuArgs);
      // The worker record's `gpu` is CUDA_VISIBLE_DEVICES as RedisWorker.join saw it, just before loading the backend.
      const records = await waitFor(async () => {
        const rs = await topology.store.readWorkers();
        return rs.length === 2 && rs.every((r) => r.backend !== 'loading') && rs;
      }, 'two workers with their backend loaded');
      expect(records.map((r) => r.gpu).sort()).toEqual(['0', '1']);
      const leases = await pool.read();
      for (const r of records) expect([r.gpu, leases.get(r.gpu!)?.pid]).toEqual([r.gpu, r.pid]);
      expect(new Set(records.map((r) => r.pid)).size).toBe(2);
      const code = await coordinator.exited;
      expect({ code, logs: code === 0 ? '' : topology.logs() }).toEqual({ code: 0, logs: '' });
      await Promise.all(topology.workers.map((w) => w.exited));
      expect(topology.logs()).toMatch(/joined run .* \(backend wasm, CUDA_VISIBLE_DEVICES=[01]\)/);
      expect((await pool.read()).size).toBe(0);
    } finally {
      await topology.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
