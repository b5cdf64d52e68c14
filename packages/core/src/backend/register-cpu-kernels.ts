import * as tf from '@tensorflow/tfjs-core';
// Load the cpu backend first: its own registration would otherwise overwrite ours when it loads later.
import '@tensorflow/tfjs-backend-cpu';
import { cpuConv2DBackpropFilterConfig } from './cpu-kernels/conv2d-backprop-filter';

/** Built-in cpu kernels that training needs faster; ours replace them unconditionally. */
export const CPU_KERNEL_FIXES: readonly tf.KernelConfig[] = [
  cpuConv2DBackpropFilterConfig, // >100× faster than tfjs-backend-cpu's element-by-element version
];

/** Registers the replacements; idempotent. Returns the names replaced by this call. */
export function registerCpuKernels(): string[] {
  const changed: string[] = [];
  for (const config of CPU_KERNEL_FIXES) {
    const current = tf.getKernel(config.kernelName, config.backendName) as tf.KernelConfig | undefined;
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current != null) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
    changed.push(config.kernelName);
  }
  return changed;
}
