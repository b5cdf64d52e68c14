import * as tf from '@tensorflow/tfjs-core';
import { alloc, convGeom, f32, output, sizeOf, type Inputs, type NativeKernel, type Shape4 } from './util';

/** y = conv2d(x, filter), NHWC x HWIO, any stride/dilation/padding: im2col + SGEMM in C++. */
export const conv2DKernel: NativeKernel = {
  kernelName: tf.Conv2D,
  run({ inputs, attrs }, backend, addon) {
    const { x, filter } = inputs as Inputs<'x' | 'filter'>;
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
    const xv = f32(backend, x);
    const wv = f32(backend, filter);
    if (!xv || !wv || dataFormat === 'NCHW') return null;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filter.shape as Shape4,
      strides,
      dilations,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const y = alloc(backend, sizeOf(info.outShape));
    addon.conv2d(xv, wv, null, y, convGeom(info), false);
    return output(backend, info.outShape, y);
  },
};
