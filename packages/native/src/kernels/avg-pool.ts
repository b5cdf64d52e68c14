import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, pool2DInfo, poolGeom, sizeOf, type Inputs, type NativeKernel } from './util';

export const avgPoolKernel: NativeKernel = {
  kernelName: tf.AvgPool,
  run({ inputs, attrs }, backend, addon) {
    const { x } = inputs as Inputs<'x'>;
    const xv = f32(backend, x);
    if (!xv) return null;
    const info = pool2DInfo(x.shape, attrs as unknown as tf.AvgPoolAttrs);
    const y = alloc(backend, sizeOf(info.outShape));
    addon.avgPool(xv, y, poolGeom(info));
    return output(backend, info.outShape, y);
  },
};
