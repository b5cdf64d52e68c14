import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, poolGeom, sizeOf, type Inputs, type NativeKernel, type Shape4 } from './util';

/** Routes each dy to the first maximum of its window (recomputed from the input, as the cpu kernel does). */
export const maxPoolGradKernel: NativeKernel = {
  kernelName: tf.MaxPoolGrad,
  run({ inputs, attrs }, backend, addon) {
    const { dy, input } = inputs as Inputs<'dy' | 'input'>;
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
    const dyv = f32(backend, dy);
    const xv = f32(backend, input);
    if (!dyv || !xv) return null;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as Shape4,
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const dx = alloc(backend, sizeOf(input.shape));
    addon.maxPoolGrad(dyv, xv, dx, poolGeom(info));
    return output(backend, input.shape, dx);
  },
};
