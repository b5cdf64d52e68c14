import * as tf from '@tensorflow/tfjs-core';
import { alloc, convGeom, f32, output, sizeOf, type Inputs, type NativeKernel, type Shape4 } from './util';

/** dfilter of conv2d: im2col(x)^T * dy, summed over every output pixel of the batch. */
export const conv2DBackpropFilterKernel: NativeKernel = {
  kernelName: tf.Conv2DBackpropFilter,
  run({ inputs, attrs }, backend, addon) {
    const { x, dy } = inputs as Inputs<'x' | 'dy'>;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
      attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const xv = f32(backend, x);
    const dyv = f32(backend, dy);
    if (!xv || !dyv || dataFormat === 'NCHW') return null;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filterShape as Shape4,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const dw = alloc(backend, sizeOf(info.filterShape));
    addon.conv2dBackpropFilter(xv, dyv, dw, convGeom(info));
    return output(backend, info.filterShape, dw);
  },
};
