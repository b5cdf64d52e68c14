import { execFileSync } from 'child_process';

/** One GPU this process can use. */
export interface VisibleGpu {
  /** Its name in the machine's GPU pool: the same GPU has the same id in every worker of the machine. */
  id: string;
  /** What CUDA_VISIBLE_DEVICES must be for this process to use that GPU (and only it). */
  cuda: string;
}

export interface VisibleGpus {
  gpus: VisibleGpu[];
  /** Where the list came from, for messages. */
  source: string;
}

/** Values that mean "no GPU" in CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES. */
const NONE = new Set(['', '-1', 'none', 'void', 'nodevfiles']);

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/**
 * The GPUs a `mat worker --gpu auto` may choose from, first found wins:
 *   1. `--gpu-count N` (or $MAT_GPU_COUNT): devices 0..N-1;
 *   2. CUDA_VISIBLE_DEVICES, when set: its entries (already what CUDA numbers from), used as they are;
 *   3. NVIDIA_VISIBLE_DEVICES (NVIDIA Container Toolkit), unless `all`: its entries name the machine's
 *      GPUs, which CUDA inside the container numbers 0..n-1;
 *   4. `nvidia-smi -L` (one `GPU <i>: …` line per GPU), when it runs.
 * An empty list means no GPU (a CPU machine, or a container without GPUs).
 */
export function findVisibleGpus(
  opts: {
    count?: number;
    env?: NodeJS.ProcessEnv;
    /** `nvidia-smi -L`'s output, or undefined when it cannot run. */
    nvidiaSmi?: () => string | undefined;
  } = {},
): VisibleGpus {
  const env = opts.env ?? process.env;
  if (opts.count !== undefined) {
    const ids = Array.from({ length: opts.count }, (_, i) => String(i));
    return { gpus: ids.map((id) => ({ id, cuda: id })), source: '--gpu-count' };
  }
  const cuda = env.CUDA_VISIBLE_DEVICES;
  if (cuda !== undefined) {
    const ids = NONE.has(cuda.trim().toLowerCase()) ? [] : list(cuda);
    return { gpus: ids.map((id) => ({ id, cuda: id })), source: 'CUDA_VISIBLE_DEVICES' };
  }
  const nvidia = env.NVIDIA_VISIBLE_DEVICES;
  if (nvidia !== undefined && nvidia.trim().toLowerCase() !== 'all') {
    const ids = NONE.has(nvidia.trim().toLowerCase()) ? [] : list(nvidia);
    return { gpus: ids.map((id, i) => ({ id, cuda: String(i) })), source: 'NVIDIA_VISIBLE_DEVICES' };
  }
  const smi = (opts.nvidiaSmi ?? runNvidiaSmi)();
  const indices = [...(smi ?? '').matchAll(/^GPU (\d+):/gm)].map((m) => m[1]);
  return {
    gpus: indices.map((id) => ({ id, cuda: id })),
    source: smi === undefined ? 'nvidia-smi -L (not found)' : 'nvidia-smi -L',
  };
}

function runNvidiaSmi(): string | undefined {
  try {
    return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10000, stdio: 'pipe' });
  } catch {
    return undefined;
  }
}
