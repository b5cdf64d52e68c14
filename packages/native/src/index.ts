/**
 * @mat/native: a fast CPU engine for tfjs.
 *
 *   import { registerNativeBackend } from '@mat/native';
 *   if (registerNativeBackend()) await tf.setBackend('native');
 *
 * Build: `npm install` (or `npm run rebuild-addon -w @mat/native`). Threads: MAT_NATIVE_THREADS=2 or
 * setNativeThreads(2). Benchmark: `npm run bench`.
 */
export { NATIVE_BACKEND_NAME, registerNativeBackend } from './backend';
export {
  nativeInfo,
  setNativeConvAlgorithm,
  setNativeSimd,
  setNativeThreads,
  takeNativePoolStats,
  type NativeInfo,
  type SimdLevel,
} from './info';
export type { ConvAlgorithm, NativePoolStats } from './addon';
export { NATIVE_KERNELS, type NativeKernel } from './kernels';
export {
  BATCH_NORM_RELU_GRAD_KERNEL,
  BATCH_NORM_RELU_KERNEL,
  BATCH_NORM_RELU_SUMS_KERNEL,
} from './batch-norm-relu';
