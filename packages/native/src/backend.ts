import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadAddon } from './addon';
import { NATIVE_KERNELS } from './kernels';
import type { KernelArgs } from './kernels/util';
import { NativeBackend } from './native-backend';
import { installBatchNormGradient } from './batch-norm-grad';
import { registerBatchNormRelu } from './batch-norm-relu';
import { installReluGradient, RELU_GRAD_KERNEL, reluGradKernelFunc } from './relu-grad';

/** The tfjs backend name registerNativeBackend() uses by default. */
export const NATIVE_BACKEND_NAME = 'native';

/**
 * Registers a tfjs backend `name` (default 'native'): a MathBackendCPU (same tensor storage, same results,
 * plus recycling of large output buffers) whose hot kernels (conv, matmul, pooling, relu and their gradients) run in the C++ addon. Every other kernel
 * is the cpu backend's; gradients are registered by kernel name, so they work unchanged. One exception for
 * speed: while a native backend is active, Relu's gradient runs as one fused kernel (relu-grad.ts) and
 * FusedBatchNorm's computes only the input gradients asked for (batch-norm-grad.ts). It also has a kernel
 * the other backends lack, batch norm + ReLU in one pass with its own gradient (batch-norm-relu.ts), which
 * @mat/core's models use while it is registered for the active backend.
 *
 * Returns false, registering nothing, when the addon is not loadable (not built, or MAT_NATIVE_DISABLE=1);
 * callers then fall back to wasm or cpu. Idempotent. It does not select the backend: call
 * `await tf.setBackend(name)`. Priority 0, so tfjs never picks it on its own.
 */
export function registerNativeBackend(name = NATIVE_BACKEND_NAME): boolean {
  const addon = loadAddon();
  if (!addon) return false;
  if (!tf.findBackendFactory(name)) tf.registerBackend(name, () => new NativeBackend(), 0);
  const native = new Map(NATIVE_KERNELS.map((k) => [k.kernelName, k]));
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(config.kernelName, name)) continue;
    const kernel = native.get(config.kernelName);
    const cpuFunc = config.kernelFunc;
    const kernelFunc: tf.KernelFunc = kernel
      ? (args: KernelArgs) => kernel.run(args, args.backend as MathBackendCPU, addon) ?? cpuFunc(args)
      : cpuFunc;
    tf.registerKernel({ ...config, backendName: name, kernelFunc });
  }
  if (!tf.getKernel(RELU_GRAD_KERNEL, name)) {
    tf.registerKernel({
      kernelName: RELU_GRAD_KERNEL,
      backendName: name,
      kernelFunc: reluGradKernelFunc(addon),
    });
  }
  registerBatchNormRelu(name, addon);
  installReluGradient();
  installBatchNormGradient();
  return true;
}
