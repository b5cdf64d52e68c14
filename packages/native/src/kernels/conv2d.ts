import * as tf from '@tensorflow/tfjs-core';
import { alloc, conv2DInfo, convGeom, f32, output, sizeOf, type Inputs, type NativeKernel } from './util';

/** y = conv2d(x, filter), NHWC x HWIO, any stride/dilation/padding: im2col + SGEMM in C++. */
export const conv2DKernel: NativeKernel = {
  kernelName: tf.Conv2D,
  run({ inputs, attrs }, backend, addon) {
    const { x, filter } = inputs as Inputs<'x' | 'filter'>;
    const conv = attrs as unknown as tf.Conv2DAttrs;
    const xv = f32(backend, x);
    const wv = f32(backend, filter);
    if (!xv || !wv || conv.dataFormat === 'NCHW') return null;
    const info = conv2DInfo(x.shape, filter.shape, conv);
    const y = alloc(backend, sizeOf(info.outShape));
    addon.conv2d(xv, wv, null, y, convGeom(info), false);
    return output(backend, info.outShape, y);
  },
};
