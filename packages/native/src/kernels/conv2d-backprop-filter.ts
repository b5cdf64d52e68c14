import * as tf from '@tensorflow/tfjs-core';
import { alloc, conv2DInfo, convGeom, f32, output, sizeOf, type Inputs, type NativeKernel } from './util';

/** dfilter of conv2d: im2col(x)^T * dy, summed over every output pixel of the batch. */
export const conv2DBackpropFilterKernel: NativeKernel = {
  kernelName: tf.Conv2DBackpropFilter,
  run({ inputs, attrs }, backend, addon) {
    const { x, dy } = inputs as Inputs<'x' | 'dy'>;
    const conv = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const xv = f32(backend, x);
    const dyv = f32(backend, dy);
    if (!xv || !dyv || conv.dataFormat === 'NCHW') return null;
    const info = conv2DInfo(x.shape, conv.filterShape, conv);
    const dw = alloc(backend, sizeOf(info.filterShape));
    addon.conv2dBackpropFilter(xv, dyv, dw, convGeom(info));
    return output(backend, info.filterShape, dw);
  },
};
