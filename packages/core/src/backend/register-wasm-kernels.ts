import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './wasm-kernels/conv2d-backprop-filter';
import { unsortedSegmentSumConfig } from './wasm-kernels/unsorted-segment-sum';

/**
 * Kernels that training needs and tfjs-backend-wasm 4.22 lacks. Found by taking the gradient of every op
 * MAT trains with on wasm (see test/core/backend/op-parity.test.ts); everything else, including
 * MaxPoolGrad, AvgPoolGrad, Conv2DBackpropInput and the reductions, is native to the wasm backend.
 */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig, // conv2d filter gradients
  unsortedSegmentSumConfig, // gather gradients
];

/**
 * Registers the missing kernels; idempotent, and it never replaces a kernel the backend already has
 * (a newer tfjs-backend-wasm may ship its own). Returns the names registered by this call.
 */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const config of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) != null) continue;
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
