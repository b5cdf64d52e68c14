import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulKernel } from './wasm-kernels/batch-mat-mul';
import { conv2DBackpropFilterConfig } from './wasm-kernels/conv2d-backprop-filter';
import { conv2DBackpropInputKernel } from './wasm-kernels/conv2d-backprop-input';
import { maxPoolGradConfig } from './wasm-kernels/max-pool-grad';
import { signConfig } from './wasm-kernels/sign';
import { unsortedSegmentSumConfig } from './wasm-kernels/unsorted-segment-sum';

/**
 * Kernels that training needs and tfjs-backend-wasm 4.22 lacks, found by taking the gradient of every op
 * MAT trains with on wasm (test/core/backend/op-parity.test.ts). Registered only where absent, so a newer
 * tfjs-backend-wasm that ships its own keeps it.
 */
export const WASM_MISSING_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig, // conv2d filter gradients
  unsortedSegmentSumConfig, // gather gradients
];

/** Built-in wasm kernels that give wrong results; ours replace them unconditionally. */
export const WASM_KERNEL_FIXES: readonly tf.KernelConfig[] = [
  maxPoolGradConfig, // drops the gradient of windows with no positive value
  signConfig, // returns 0 for every |x| < FLT_EPSILON, which froze attack steps on small gradients
];

/**
 * Built-in wasm kernels that are correct but slow; each replacement is built around the built-in kernel,
 * which it calls for the cases it does not cover.
 */
const WASM_KERNEL_SPEEDUPS: Record<string, (builtIn: tf.KernelFunc) => tf.KernelFunc> = {
  [tf.Conv2DBackpropInput]: conv2DBackpropInputKernel, // as an XNNPACK Conv2D: ~7x the built-in loop
  [tf.BatchMatMul]: batchMatMulKernel, // transposes first: the built-in's transposed products are ~13x slower
};
const replacements = new WeakSet<tf.KernelFunc>();

export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  ...WASM_MISSING_KERNELS,
  ...WASM_KERNEL_FIXES,
];

/**
 * Registers the missing kernels, the fixes and the speed-ups; idempotent. Everything else training uses
 * (Conv2D, AvgPoolGrad, reductions, element-wise ops) is native to the wasm backend and matches cpu. Returns the names registered or replaced by this call.
 */
export function registerWasmKernels(): string[] {
  const changed: string[] = [];
  for (const config of WASM_MISSING_KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) != null) continue;
    tf.registerKernel(config);
    changed.push(config.kernelName);
  }
  for (const config of WASM_KERNEL_FIXES) {
    const current = tf.getKernel(config.kernelName, config.backendName) as tf.KernelConfig | undefined;
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current != null) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
    changed.push(config.kernelName);
  }
  for (const [kernelName, replace] of Object.entries(WASM_KERNEL_SPEEDUPS)) {
    const current = tf.getKernel(kernelName, 'wasm') as tf.KernelConfig | undefined;
    if (current == null || replacements.has(current.kernelFunc)) continue;
    // Keep the built-in's setupFunc: the wasm backend runs it at initialisation to bind the C++ function
    // the built-in kernelFunc calls (and which the replacements fall back to).
    const config = { ...current, kernelFunc: replace(current.kernelFunc) };
    replacements.add(config.kernelFunc);
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel(config);
    changed.push(kernelName);
  }
  return changed;
}
