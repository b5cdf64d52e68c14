import * as tf from '@tensorflow/tfjs-core';

/**
 * Settings libtensorflow's GPU build (through @tensorflow/tfjs-node-gpu) and the CUDA driver read once,
 * when they load, so they are set in the environment before the tensorflow backend loads; a value the user
 * set is kept.
 *
 * - TF_FORCE_GPU_ALLOW_GROWTH=true: TensorFlow takes GPU memory as it needs it instead of nearly all of
 *   every visible GPU at start (tfjs#671, #5704), so that several processes can share a GPU (one per peer
 *   with `--runtime processes`, `mat eval` beside a worker) and a worker never blocks a GPU it does not use.
 * - CUDA_CACHE_MAXSIZE=4294967296 (4 GiB, the largest the driver accepts): on GPUs without native kernels
 *   in libtensorflow 2.9.1 (compute capability 8.0 and newer) the driver compiles the PTX of every kernel at
 *   start; a cache too small for all of them (the documented default was 256 MiB) compiles them again at
 *   every start. Where the cache lives is CUDA_CACHE_PATH (default ~/.nv/ComputeCache; docker-compose.yml
 *   puts it in a volume shared by the workers).
 */
export const GPU_ENVIRONMENT_DEFAULTS: Readonly<Record<string, string>> = {
  TF_FORCE_GPU_ALLOW_GROWTH: 'true',
  CUDA_CACHE_MAXSIZE: String(4 * 1024 ** 3),
};

/** Sets each default that `env` lacks (an empty value counts as unset); returns the names it set. */
export function applyGpuEnvironmentDefaults(env: NodeJS.ProcessEnv = process.env): string[] {
  const set: string[] = [];
  for (const [name, value] of Object.entries(GPU_ENVIRONMENT_DEFAULTS)) {
    if (env[name] !== undefined && env[name] !== '') continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}

/** Whether tfjs-node(-gpu) has loaded (it registers the 'tensorflow' backend then), and so libtensorflow has
 * read CUDA_VISIBLE_DEVICES and the settings above. */
export function libtensorflowLoaded(): boolean {
  return tf.findBackendFactory('tensorflow') != null;
}
