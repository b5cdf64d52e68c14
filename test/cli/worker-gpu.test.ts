import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';
import { GpuPool } from '@mat/exchange';
import { applyGpuChoice, parseGpuChoice } from '../../packages/cli/src/commands/worker-gpu';
import { newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';

describe('mat worker --gpu: the flag and its environment defaults', () => {
  it('an index, auto (with its pool and count), or nothing', () => {
    expect(parseGpuChoice({}, {})).toEqual({ kind: 'none' });
    expect(parseGpuChoice({ gpu: '3' }, {})).toEqual({ kind: 'index', index: 3 });
    expect(parseGpuChoice({}, { MAT_GPU: '1' })).toEqual({ kind: 'index', index: 1 });
    expect(parseGpuChoice({ gpu: 'auto' }, {})).toEqual({ kind: 'auto', pool: os.hostname() });
    expect(parseGpuChoice({}, { MAT_GPU: 'auto', MAT_GPU_POOL: 'box-1', MAT_GPU_COUNT: '4' })).toEqual({
      kind: 'auto',
      pool: 'box-1',
      count: 4,
    });
    // Flags win over the environment.
    expect(
      parseGpuChoice({ gpu: 'auto', 'gpu-pool': 'p', 'gpu-count': 2 }, { MAT_GPU: '0', MAT_GPU_POOL: 'q' }),
    ).toEqual({ kind: 'auto', pool: 'p', count: 2 });
    expect(parseGpuChoice({ gpu: '0' }, { MAT_GPU: 'auto', MAT_GPU_POOL: 'q' })).toEqual({
      kind: 'index',
      index: 0,
    });
  });

  it('bad values are errors that name the flag or variable', () => {
    const cases: Array<[Parameters<typeof parseGpuChoice>[0], NodeJS.ProcessEnv, RegExp]> = [
      [{ gpu: '-1' }, {}, /^--gpu must be a GPU index \(0, 1, …\) or auto \(got "-1"\)$/],
      [{ gpu: '1.5' }, {}, /^--gpu must be a GPU index .* \(got "1\.5"\)$/],
      [{ gpu: 'Auto' }, {}, /^--gpu must be a GPU index .* \(got "Auto"\)$/],
      [{ gpu: '' }, {}, /^--gpu must be a GPU index/],
      [{}, { MAT_GPU: 'gpu0' }, /^MAT_GPU must be a GPU index .* \(got "gpu0"\)$/],
      [{ gpu: 'auto', 'gpu-count': 0 }, {}, /^--gpu-count must be a positive integer \(got 0\)$/],
      [{ gpu: 'auto', 'gpu-count': NaN }, {}, /^--gpu-count must be a positive integer \(got NaN\)$/],
      [{ gpu: 'auto' }, { MAT_GPU_COUNT: 'two' }, /^MAT_GPU_COUNT must be a positive integer \(got "two"\)$/],
      [{ gpu: '0', 'gpu-count': 2 }, {}, /^--gpu-pool and --gpu-count go with --gpu auto$/],
      [{ 'gpu-pool': 'p' }, {}, /^--gpu-pool and --gpu-count go with --gpu auto$/],
      [{ gpu: 'auto', 'gpu-pool': 'a b' }, {}, /^the GPU pool name .* \(got "a b"\)$/],
    ];
    for (const [args, env, message] of cases) expect(() => parseGpuChoice(args, env)).toThrow(message);
  });
});

// Needs Redis on 127.0.0.1:6379 (scripts/ensure-redis.sh).
describe('mat worker --gpu: CUDA_VISIBLE_DEVICES before the backend loads', () => {
  const saved = process.env.CUDA_VISIBLE_DEVICES;
  const conn = { url: REDIS_URL };
  const lines: string[] = [];
  const log = (m: string) => lines.push(m);
  afterEach(() => {
    if (saved === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
    else process.env.CUDA_VISIBLE_DEVICES = saved;
    lines.length = 0;
  });

  it('an index is set as it is, with no lease', async () => {
    const claim = await applyGpuChoice(
      { kind: 'index', index: 2 },
      { conn, workerId: 'w', leaseMs: 1000, log },
    );
    expect(claim).toBeUndefined();
    expect(process.env.CUDA_VISIBLE_DEVICES).toBe('2');
  });

  it('refuses to choose a GPU once libtensorflow has loaded (it would use every GPU)', async () => {
    // What tfjs-node(-gpu) does when it loads: register the 'tensorflow' backend.
    tf.registerBackend('tensorflow', () => new tf.KernelBackend(), -1);
    try {
      await expect(
        applyGpuChoice({ kind: 'index', index: 1 }, { conn, workerId: 'w', leaseMs: 1000, log }),
      ).rejects.toThrow(/the GPU must be chosen before libtensorflow loads/);
      expect(process.env.CUDA_VISIBLE_DEVICES).toBe(saved);
    } finally {
      tf.removeBackend('tensorflow');
    }
  });

  it('auto: two workers of one pool get different GPUs, set as CUDA sees them; release frees them', async () => {
    const pool = uniqueRunId('cli-pool');
    const visible = () => ({
      gpus: [
        { id: '4', cuda: '0' },
        { id: '6', cuda: '1' },
      ],
      source: 'NVIDIA_VISIBLE_DEVICES',
    });
    const redis = newRedis();
    const first = await applyGpuChoice(
      { kind: 'auto', pool },
      { conn, workerId: 'w1', leaseMs: 60000, log, visible },
    );
    try {
      expect(process.env.CUDA_VISIBLE_DEVICES).toBe('0');
      expect(first?.lease).toEqual({ pool, device: '4' });
      const second = await applyGpuChoice(
        { kind: 'auto', pool },
        { conn, workerId: 'w2', leaseMs: 60000, log, visible },
      );
      expect(process.env.CUDA_VISIBLE_DEVICES).toBe('1');
      expect(second?.lease).toEqual({ pool, device: '6' });
      expect(lines).toContain(
        `GPU 6 of pool "${pool}" (2 from NVIDIA_VISIBLE_DEVICES): CUDA_VISIBLE_DEVICES=1`,
      );
      const leases = await new GpuPool(redis, pool).read();
      expect(Object.fromEntries([...leases].map(([id, l]) => [id, l.holder]))).toEqual({
        '4': 'w1',
        '6': 'w2',
      });
      await second?.release();
    } finally {
      await first?.release();
    }
    expect((await new GpuPool(redis, pool).read()).size).toBe(0);
    redis.disconnect();
  });

  it('auto without any GPU: says so and hides GPUs, so the backend runs without one', async () => {
    const claim = await applyGpuChoice(
      { kind: 'auto', pool: 'unused' },
      {
        conn,
        workerId: 'w',
        leaseMs: 1000,
        log,
        visible: () => ({ gpus: [], source: 'nvidia-smi -L (not found)' }),
      },
    );
    expect(claim).toBeUndefined();
    expect(process.env.CUDA_VISIBLE_DEVICES).toBe('-1');
    // One short line per worker, not a paragraph.
    expect(lines).toEqual(['--gpu auto: no GPU found (nvidia-smi -L (not found)): running on the CPU']);
  });
});
