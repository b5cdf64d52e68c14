import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * What `mat doctor` says about the GPUs for libtensorflow 2.9.1 (what @tensorflow/tfjs-node-gpu 4.22 loads):
 * each GPU's compute capability, whether libtensorflow has native kernels for it or the CUDA driver must
 * JIT-compile them from PTX at start, and the JIT cache that keeps that compilation across starts.
 *
 * The kernels in libtensorflow 2.9.1: TensorFlow 2.9's release builds set
 * TF_CUDA_COMPUTE_CAPABILITIES=sm_35,sm_50,sm_60,sm_70,sm_75,compute_80 (its .bazelrc): machine code (SASS)
 * for 3.5, 5.0, 6.0, 7.0 and 7.5, and PTX for 8.0. SASS runs on GPUs of the same major version and an equal
 * or higher minor one; PTX is compiled by the driver for any GPU of that or a higher capability.
 * (Read from TensorFlow's build configuration, not from the binary: no GPU or CUDA tools here.)
 */
export const LIBTENSORFLOW_KERNELS = {
  sass: ['3.5', '5.0', '6.0', '7.0', '7.5'],
  ptx: '8.0',
} as const;

export interface GpuInfo {
  index: string;
  name: string;
  /** e.g. "8.0"; undefined when this nvidia-smi cannot report it. */
  computeCapability?: string;
  driver?: string;
  memoryMiB?: number;
}

export type KernelSource =
  | { kind: 'native'; sass: string; text: string }
  | { kind: 'ptx-jit'; ptx: string; text: string }
  | { kind: 'unsupported'; text: string }
  | { kind: 'unknown'; text: string };

const cc = (v: string) => {
  const [major, minor] = v.split('.').map(Number);
  return { major, minor };
};

/** Native kernels, PTX JIT, or no kernels at all for a GPU of compute capability `capability`. */
export function kernelSource(capability: string | undefined): KernelSource {
  if (capability === undefined || !/^\d+\.\d+$/.test(capability))
    return {
      kind: 'unknown',
      text: 'compute capability unknown (this nvidia-smi cannot report compute_cap): see the GPU maker’s table',
    };
  const gpu = cc(capability);
  const sass = [...LIBTENSORFLOW_KERNELS.sass]
    .reverse()
    .find((s) => cc(s).major === gpu.major && cc(s).minor <= gpu.minor);
  if (sass)
    return {
      kind: 'native',
      sass,
      text: `native kernels (libtensorflow 2.9.1 has sm_${sass.replace('.', '')} machine code): no JIT at start`,
    };
  const ptx = cc(LIBTENSORFLOW_KERNELS.ptx);
  if (gpu.major > ptx.major || (gpu.major === ptx.major && gpu.minor >= ptx.minor))
    return {
      kind: 'ptx-jit',
      ptx: LIBTENSORFLOW_KERNELS.ptx,
      text:
        `no native kernels for ${capability} in libtensorflow 2.9.1 (machine code up to sm_75): the CUDA driver ` +
        `compiles its compute_80 PTX at the first start of each process, which can take minutes, unless the ` +
        `JIT cache already holds them`,
    };
  return {
    kind: 'unsupported',
    text: `compute capability ${capability} is below libtensorflow 2.9.1's oldest kernels (3.5): it cannot use this GPU`,
  };
}

/**
 * Parses `nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total
 * --format=csv,noheader,nounits` (or the same without compute_cap: `withCapability` false).
 */
export function parseGpuQuery(csv: string, withCapability = true): GpuInfo[] {
  return csv
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((line) => {
      const f = line.split(',').map((s) => s.trim());
      const [index, name] = f;
      const rest = withCapability ? f.slice(2) : [undefined, ...f.slice(2)];
      const [capability, driver, memory] = rest;
      const memoryMiB = Number(memory);
      return {
        index,
        name,
        computeCapability: capability && /^\d+\.\d+$/.test(capability) ? capability : undefined,
        driver: driver || undefined,
        memoryMiB: Number.isFinite(memoryMiB) && memory !== '' ? memoryMiB : undefined,
      };
    });
}

/** Runs nvidia-smi with these arguments: its stdout, or an Error whose message says why not. */
export type NvidiaSmi = (args: string[]) => string | Error;

export const runNvidiaSmi: NvidiaSmi = (args) => {
  try {
    return execFileSync('nvidia-smi', args, { encoding: 'utf8', timeout: 15000, stdio: 'pipe' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (e.code === 'ENOENT') return new Error('nvidia-smi not found');
    const said = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n')[0];
    return new Error(`nvidia-smi failed${said ? `: ${said}` : ''}`);
  }
};

const QUERY = [
  '--query-gpu=index,name,compute_cap,driver_version,memory.total',
  '--format=csv,noheader,nounits',
];
const QUERY_OLD = ['--query-gpu=index,name,driver_version,memory.total', '--format=csv,noheader,nounits'];

/** The GPUs nvidia-smi lists; an older nvidia-smi without `compute_cap` gives the rest. */
export function queryGpus(smi: NvidiaSmi = runNvidiaSmi): { gpus: GpuInfo[]; error?: string } {
  const out = smi(QUERY);
  if (typeof out === 'string') return { gpus: parseGpuQuery(out) };
  if (/compute_cap/.test(out.message)) {
    const old = smi(QUERY_OLD);
    if (typeof old === 'string') return { gpus: parseGpuQuery(old, false) };
    return { gpus: [], error: old.message };
  }
  return { gpus: [], error: out.message };
}

export interface JitCache {
  path: string;
  /** Where the path came from. */
  pathFrom: 'CUDA_CACHE_PATH' | 'default';
  maxSizeBytes?: number;
  maxSizeFrom: 'CUDA_CACHE_MAXSIZE' | 'driver default';
  disabled: boolean;
  exists: boolean;
  writable: boolean;
  sizeBytes?: number;
  notes: string[];
}

const MAX_CACHE = 2 ** 32;

/** The CUDA JIT cache this process would use (CUDA_CACHE_PATH, CUDA_CACHE_MAXSIZE, CUDA_CACHE_DISABLE). */
export function jitCache(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): JitCache {
  const fromEnv = env.CUDA_CACHE_PATH !== undefined && env.CUDA_CACHE_PATH !== '';
  const dir = fromEnv ? (env.CUDA_CACHE_PATH as string) : path.join(home, '.nv', 'ComputeCache');
  const notes: string[] = [];
  let maxSizeBytes: number | undefined;
  if (env.CUDA_CACHE_MAXSIZE !== undefined && env.CUDA_CACHE_MAXSIZE !== '') {
    maxSizeBytes = Number(env.CUDA_CACHE_MAXSIZE);
    if (!Number.isInteger(maxSizeBytes) || maxSizeBytes < 0) {
      notes.push(`CUDA_CACHE_MAXSIZE="${env.CUDA_CACHE_MAXSIZE}" is not a number of bytes`);
      maxSizeBytes = undefined;
    } else if (maxSizeBytes > MAX_CACHE) {
      notes.push(`CUDA_CACHE_MAXSIZE is above the driver's maximum of ${MAX_CACHE} bytes (4 GiB)`);
    }
  }
  const disabled = env.CUDA_CACHE_DISABLE === '1';
  if (disabled) notes.push('CUDA_CACHE_DISABLE=1: every process compiles the PTX again');
  let exists = false;
  let writable = false;
  let sizeBytes: number | undefined;
  try {
    exists = fs.statSync(dir).isDirectory();
  } catch {
    exists = false;
  }
  if (exists) {
    try {
      fs.accessSync(dir, fs.constants.W_OK);
      writable = true;
    } catch {
      notes.push(`${dir} is not writable by this user: compiled kernels cannot be kept`);
    }
    sizeBytes = directorySize(dir);
  } else {
    notes.push(`${dir} does not exist yet (the driver creates it at the first JIT compilation)`);
  }
  if (!fromEnv)
    notes.push('CUDA_CACHE_PATH unset: the cache lives in the home directory, lost with a container');
  return {
    path: dir,
    pathFrom: fromEnv ? 'CUDA_CACHE_PATH' : 'default',
    maxSizeBytes,
    maxSizeFrom: maxSizeBytes !== undefined ? 'CUDA_CACHE_MAXSIZE' : 'driver default',
    disabled,
    exists,
    writable,
    sizeBytes,
    notes,
  };
}

function directorySize(dir: string): number {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop() as string;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) total += fs.statSync(p, { throwIfNoEntry: false })?.size ?? 0;
    }
  }
  return total;
}

export interface GpuReport {
  nvidiaSmi: { ok: boolean; error?: string };
  gpus: Array<GpuInfo & { kernels: KernelSource }>;
  /** What this process's CUDA would see (CUDA_VISIBLE_DEVICES), when set. */
  cudaVisibleDevices?: string;
  allowGrowth: string | undefined;
  jitCache: JitCache;
}

/** Everything `mat doctor` reports about GPUs; `smi` and `env` are injectable for tests. */
export function gpuReport(opts: { smi?: NvidiaSmi; env?: NodeJS.ProcessEnv; home?: string } = {}): GpuReport {
  const env = opts.env ?? process.env;
  const { gpus, error } = queryGpus(opts.smi);
  return {
    nvidiaSmi: error ? { ok: false, error } : { ok: true },
    gpus: gpus.map((g) => ({ ...g, kernels: kernelSource(g.computeCapability) })),
    cudaVisibleDevices: env.CUDA_VISIBLE_DEVICES,
    allowGrowth: env.TF_FORCE_GPU_ALLOW_GROWTH,
    jitCache: jitCache(env, opts.home),
  };
}

/** The report as the lines `mat doctor` prints. */
export function formatGpuReport(r: GpuReport): string[] {
  const lines: string[] = [];
  if (!r.nvidiaSmi.ok) lines.push(`gpus: none found (${r.nvidiaSmi.error})`);
  else if (r.gpus.length === 0) lines.push('gpus: nvidia-smi lists none');
  else lines.push('gpus:');
  for (const g of r.gpus) {
    const cap = g.computeCapability
      ? `compute capability ${g.computeCapability}`
      : 'compute capability unknown';
    const mem = g.memoryMiB !== undefined ? `, ${g.memoryMiB} MiB` : '';
    const driver = g.driver ? `, driver ${g.driver}` : '';
    lines.push(`  ${g.index}: ${g.name} (${cap}${mem}${driver})`);
    lines.push(`     ${g.kernels.text}`);
  }
  if (r.cudaVisibleDevices !== undefined) lines.push(`CUDA_VISIBLE_DEVICES=${r.cudaVisibleDevices}`);
  lines.push(
    `TF_FORCE_GPU_ALLOW_GROWTH=${r.allowGrowth ?? '(unset: the tensorflow backend sets true when it loads)'}`,
  );
  const c = r.jitCache;
  const max =
    c.maxSizeBytes !== undefined
      ? `${c.maxSizeBytes} bytes (CUDA_CACHE_MAXSIZE)`
      : 'driver default (the tensorflow backend sets 4 GiB when it loads)';
  const size = c.sizeBytes !== undefined ? `, holds ${c.sizeBytes} bytes` : '';
  lines.push(
    `CUDA JIT cache: ${c.path} (${c.pathFrom === 'default' ? 'default' : 'CUDA_CACHE_PATH'}${size}), max ${max}`,
  );
  for (const note of c.notes) lines.push(`  note: ${note}`);
  return lines;
}
