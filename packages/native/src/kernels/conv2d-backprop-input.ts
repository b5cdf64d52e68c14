import * as tf from '@tensorflow/tfjs-core';
import { alloc, conv2DInfo, convGeom, f32, output, sizeOf, type Inputs, type NativeKernel } from './util';

/** dx of conv2d: dy * filter^T (a GEMM) scattered back with col2im. */
export const conv2DBackpropInputKernel: NativeKernel = {
  kernelName: tf.Conv2DBackpropInput,
  run({ inputs, attrs }, backend, addon) {
    const { dy, filter } = inputs as Inputs<'dy' | 'filter'>;
    const conv = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const dyv = f32(backend, dy);
    const wv = f32(backend, filter);
    if (!dyv || !wv || conv.dataFormat === 'NCHW') return null;
    const info = conv2DInfo(conv.inputShape, filter.shape, conv);
    const dx = alloc(backend, sizeOf(info.inShape));
    addon.conv2dBackpropInput(dyv, wv, dx, convGeom(info));
    return output(backend, info.inShape, dx);
  },
};
