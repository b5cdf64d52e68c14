import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, pool2DInfo, poolGeom, sizeOf, type Inputs, type NativeKernel } from './util';

/** Routes each dy to the first maximum of its window (recomputed from the input, as the cpu kernel does). */
export const maxPoolGradKernel: NativeKernel = {
  kernelName: tf.MaxPoolGrad,
  run({ inputs, attrs }, backend, addon) {
    const { dy, input } = inputs as Inputs<'dy' | 'input'>;
    const dyv = f32(backend, dy);
    const xv = f32(backend, input);
    if (!dyv || !xv) return null;
    const info = pool2DInfo(input.shape, attrs as unknown as tf.MaxPoolGradAttrs);
    const dx = alloc(backend, sizeOf(input.shape));
    addon.maxPoolGrad(dyv, xv, dx, poolGeom(info));
    return output(backend, input.shape, dx);
  },
};
