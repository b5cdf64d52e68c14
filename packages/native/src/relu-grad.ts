import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon';
import { alloc, f32, output, type Inputs, type KernelArgs } from './kernels/util';
import { overrideGradientOnNative } from './native-gradient';

/** A kernel only native backends have: dx = dy * step(x) in one pass. */
export const RELU_GRAD_KERNEL = 'MatNativeReluGrad';

/**
 * The ReLU gradient, fused. tfjs computes it as mul(dy, cast(step(x))): two full passes and an extra
 * activation-sized tensor per ReLU per backward pass (on fmnist-cnn's first layer, 12.8 MB each). Same bits.
 */
export function reluGradKernelFunc(addon: NativeAddon): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as MathBackendCPU;
    const { dy, x } = args.inputs as Inputs<'dy' | 'x'>;
    const dyv = f32(backend, dy);
    const xv = f32(backend, x);
    if (dyv && xv && dyv.length === xv.length) {
      const dx = alloc(backend, dyv.length);
      addon.reluGrad(dyv, xv, dx);
      return output(backend, x.shape, dx);
    }
    // Any other case: the unfused formula on the cpu kernels.
    const step = tf
      .getKernel(tf.Step, 'cpu')
      .kernelFunc({ inputs: { x }, backend, attrs: { alpha: 0 } }) as tf.TensorInfo;
    const out = tf
      .getKernel(tf.Multiply, 'cpu')
      .kernelFunc({ inputs: { a: dy, b: step }, backend }) as tf.TensorInfo;
    backend.disposeIntermediateTensorInfo(step);
    return out;
  };
}

/**
 * Makes Relu's registered gradient use the fused kernel while a native backend is active, and tfjs's own
 * gradient function otherwise. Idempotent.
 */
export function installReluGradient(): void {
  overrideGradientOnNative(tf.Relu, (dy, saved) => {
    const [x] = saved;
    return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x }) as tf.Tensor };
  });
  if (!tf.getGradient(RELU_GRAD_KERNEL)) {
    // Second order: d(dy * step(x)) = g * step(x) for dy, 0 for x.
    tf.registerGradient({
      kernelName: RELU_GRAD_KERNEL,
      inputsToSave: ['x'],
      gradFunc: (g, saved) => {
        const [x] = saved;
        return {
          dy: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: g as tf.Tensor, x }) as tf.Tensor,
          x: () => tf.zerosLike(x),
        };
      },
    });
  }
}
