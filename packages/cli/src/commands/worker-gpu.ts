import * as os from 'os';
import type { Argv } from 'yargs';
import { findVisibleGpus, GpuClaim, type VisibleGpus } from '@mat/worker';
import type { RedisConnection } from '@mat/exchange';
import { libtensorflowLoaded } from '@mat/core';

/** The GPU flags of `mat worker`; the defaults come from the environment (docker-compose.yml sets them). */
export interface GpuArgs {
  gpu?: string;
  'gpu-pool'?: string;
  'gpu-count'?: number;
}

export function gpuOptions<T>(y: Argv<T>) {
  return y
    .option('gpu', {
      type: 'string',
      describe:
        'GPU for the tensorflow backend: an index (sets CUDA_VISIBLE_DEVICES), or auto = the lowest GPU of ' +
        'this machine no other worker holds (default: $MAT_GPU)',
    })
    .option('gpu-pool', {
      type: 'string',
      describe:
        'With --gpu auto: the name the workers of one machine share (default: $MAT_GPU_POOL or the hostname)',
    })
    .option('gpu-count', {
      type: 'number',
      describe:
        'With --gpu auto: GPUs 0..N-1 (default: $MAT_GPU_COUNT, else CUDA_VISIBLE_DEVICES, ' +
        'NVIDIA_VISIBLE_DEVICES or nvidia-smi -L)',
    });
}

export type GpuChoice =
  { kind: 'none' } | { kind: 'index'; index: number } | { kind: 'auto'; pool: string; count?: number };

/** Checks the GPU flags (and $MAT_GPU, $MAT_GPU_POOL, $MAT_GPU_COUNT); a bad value is an error naming it. */
export function parseGpuChoice(a: GpuArgs, env: NodeJS.ProcessEnv = process.env): GpuChoice {
  const fromFlag = a.gpu !== undefined;
  const raw = (a.gpu ?? env.MAT_GPU ?? '').trim();
  const name = fromFlag ? '--gpu' : 'MAT_GPU';
  let choice: GpuChoice;
  if (raw === '') {
    if (fromFlag) throw new Error('--gpu must be a GPU index (0, 1, …) or auto (got "")');
    choice = { kind: 'none' };
  } else if (raw === 'auto') {
    choice = {
      kind: 'auto',
      pool: a['gpu-pool'] ?? env.MAT_GPU_POOL ?? os.hostname(),
      count: gpuCount(a['gpu-count'], env.MAT_GPU_COUNT),
    };
  } else if (/^\d+$/.test(raw)) {
    choice = { kind: 'index', index: Number(raw) };
  } else {
    throw new Error(`${name} must be a GPU index (0, 1, …) or auto (got "${raw}")`);
  }
  if (choice.kind !== 'auto' && (a['gpu-pool'] !== undefined || a['gpu-count'] !== undefined))
    throw new Error('--gpu-pool and --gpu-count go with --gpu auto');
  if (choice.kind === 'auto' && !/^[A-Za-z0-9][\w.-]{0,127}$/.test(choice.pool))
    throw new Error(
      `the GPU pool name (--gpu-pool or MAT_GPU_POOL) must be letters, digits, '.', '_' or '-' (got "${choice.pool}")`,
    );
  return choice;
}

function gpuCount(flag: number | undefined, env: string | undefined): number | undefined {
  if (flag === undefined && (env === undefined || env.trim() === '')) return undefined;
  const count = flag ?? Number(env);
  if (!(Number.isInteger(count) && count > 0)) {
    const got = flag ?? `"${env}"`;
    throw new Error(
      `${flag === undefined ? 'MAT_GPU_COUNT' : '--gpu-count'} must be a positive integer (got ${got})`,
    );
  }
  return count;
}

/**
 * Applies the GPU choice before the worker loads its backend (tfjs-node-gpu reads CUDA_VISIBLE_DEVICES
 * once, when it loads): an index is set as it is; `auto` leases the lowest free GPU of the machine's pool
 * (waiting as a spare while every GPU is held) and sets that one. Without any GPU, `auto` says so and hides
 * GPUs, so the worker runs on the CPU with the run's backend choice rather than on every GPU at once.
 * Returns the lease to pass to the worker and release at exit.
 */
export async function applyGpuChoice(
  choice: GpuChoice,
  ctx: {
    conn: RedisConnection;
    workerId: string;
    leaseMs: number;
    log: (message: string) => void;
    visible?: () => VisibleGpus;
  },
): Promise<GpuClaim | undefined> {
  if (choice.kind === 'none') return undefined;
  // tfjs-node(-gpu) registers its backend when it loads, and libtensorflow has then read
  // CUDA_VISIBLE_DEVICES: a GPU chosen after that would not be the one used (every GPU would be).
  if (libtensorflowLoaded())
    throw new Error(
      'the GPU must be chosen before libtensorflow loads, but the tensorflow backend is already loaded ' +
        '(a bug: report it)',
    );
  if (choice.kind === 'index') {
    process.env.CUDA_VISIBLE_DEVICES = String(choice.index);
    return undefined;
  }
  const { gpus, source } = (ctx.visible ?? (() => findVisibleGpus({ count: choice.count })))();
  if (gpus.length === 0) {
    // One short line: every worker of the machine prints it (mat worker --help names the ways to list GPUs).
    ctx.log(`--gpu auto: no GPU found (${source}): running on the CPU`);
    process.env.CUDA_VISIBLE_DEVICES = '-1';
    return undefined;
  }
  const claim = await GpuClaim.claim({
    conn: ctx.conn,
    pool: choice.pool,
    gpus,
    holder: { holder: ctx.workerId, host: os.hostname(), pid: process.pid },
    leaseMs: ctx.leaseMs,
    log: ctx.log,
  });
  process.env.CUDA_VISIBLE_DEVICES = claim.gpu.cuda;
  ctx.log(
    `GPU ${claim.gpu.id} of pool "${choice.pool}" (${gpus.length} from ${source}): ` +
      `CUDA_VISIBLE_DEVICES=${claim.gpu.cuda}`,
  );
  return claim;
}
