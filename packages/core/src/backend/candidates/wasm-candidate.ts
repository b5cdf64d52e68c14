/**
 * tfjs-backend-wasm under Node. Findings (tfjs 4.22.0, Node 20, x86-64):
 *
 * - Loading: the package's Node bundle finds its .wasm files relative to its own script, but bundlers and
 *   jest can break that, so we always `setWasmPaths(<dir of require.resolve(pkg)>/)`; the binaries sit in
 *   the package's dist/ folder next to that script.
 * - SIMD: Node 20 validates WASM SIMD, so WASM_HAS_SIMD_SUPPORT is true and tfjs loads
 *   tfjs-backend-wasm-simd.wasm (verified by tracing fs.readFileSync). Forcing the flag off loads the plain
 *   tfjs-backend-wasm.wasm instead.
 * - Threads: tfjs hard-codes WASM_HAS_MULTITHREAD_SUPPORT = false when IS_NODE (tfjs issue #3830). Forcing
 *   it true makes tfjs pick tfjs-backend-wasm-threaded-simd.wasm, whose pthread pool is spawned from a
 *   `blob:` URL that Node's worker_threads rejects (ERR_WORKER_PATH), so initialisation fails, and a failed
 *   init cannot be retried in the same process. We therefore never force it.
 * - setThreadsCount(n) only stores n for init_with_threads_count; the single-threaded binaries ignore it
 *   and getThreadsCount() reports 1 whatever n is. Parallelism under Node has to come from running
 *   several processes, not from wasm threads.
 * - Importing the package registers 'wasm' with a higher priority than 'cpu'; if that happened at import
 *   time, every later synchronous tf call made before `await tf.setBackend(...)` would fail with "backend
 *   'wasm' has not yet been initialized". Hence the lazy require below.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type * as TfWasm from '@tensorflow/tfjs-backend-wasm';
import { optionalRequire } from '../optional-require';
import { registerWasmKernels, WASM_TRAINING_KERNELS } from '../register-wasm-kernels';
import type { BackendCandidate } from './backend-candidate';

const PACKAGE = '@tensorflow/tfjs-backend-wasm';

/** The folder holding the .wasm binaries, with a trailing separator as setWasmPaths expects. */
export function wasmBinaryFolder(): string {
  return path.dirname(require.resolve(PACKAGE)) + path.sep;
}

function binaryName(simd: boolean, threads: boolean): string {
  if (simd && threads) return 'tfjs-backend-wasm-threaded-simd.wasm';
  return simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
}

export const wasmCandidate: BackendCandidate = {
  name: 'wasm',
  async prepare() {
    if (!('WebAssembly' in globalThis)) throw new Error('this JavaScript runtime has no WebAssembly');
    const loaded = optionalRequire<typeof TfWasm>(PACKAGE);
    if (!loaded.ok) throw new Error(loaded.reason);
    const wasm = loaded.module;
    const folder = wasmBinaryFolder();
    try {
      wasm.setWasmPaths(folder);
    } catch (error) {
      // Thrown only after an earlier initialisation attempt in this process failed.
      throw new Error(`cannot set the wasm binary folder: ${(error as Error).message}`);
    }
    registerWasmKernels();
    return {
      tfName: 'wasm',
      details: {
        version: wasm.version_wasm,
        folder,
        matKernels: WASM_TRAINING_KERNELS.map((k) => k.kernelName),
      },
      describe: async () => {
        const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
        const multithread = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
        return {
          simd,
          multithread,
          binary: binaryName(simd, multithread),
          threadsCount: wasm.getThreadsCount(),
        };
      },
    };
  },
};
