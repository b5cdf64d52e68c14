import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, poolGeom, sizeOf, type Inputs, type NativeKernel, type Shape4 } from './util';

export const maxPoolKernel: NativeKernel = {
  kernelName: tf.MaxPool,
  run({ inputs, attrs }, backend, addon) {
    const { x } = inputs as Inputs<'x'>;
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolAttrs;
    const xv = f32(backend, x);
    if (!xv) return null;
    const info = tf.backend_util.computePool2DInfo(
      x.shape as Shape4,
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const y = alloc(backend, sizeOf(info.outShape));
    addon.maxPool(xv, y, poolGeom(info));
    return output(backend, info.outShape, y);
  },
};
