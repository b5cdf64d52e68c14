import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, pool2DInfo, poolGeom, sizeOf, type Inputs, type NativeKernel } from './util';

/** Spreads dy / (fH * fW) over each window, the cpu kernel's divisor (also at padded borders). */
export const avgPoolGradKernel: NativeKernel = {
  kernelName: tf.AvgPoolGrad,
  run({ inputs, attrs }, backend, addon) {
    const { dy, input } = inputs as Inputs<'dy' | 'input'>;
    const dyv = f32(backend, dy);
    if (!dyv || input.dtype !== 'float32') return null;
    const info = pool2DInfo(input.shape, attrs as unknown as tf.AvgPoolGradAttrs);
    const dx = alloc(backend, sizeOf(input.shape));
    addon.avgPoolGrad(dyv, dx, poolGeom(info));
    return output(backend, input.shape, dx);
  },
};
