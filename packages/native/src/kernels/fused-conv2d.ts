import * as tf from '@tensorflow/tfjs-core';
import { alloc, conv2DInfo, convGeom, f32, output, sizeOf, type NativeKernel } from './util';

/**
 * tf.fused.conv2d: conv + per-channel bias + linear/relu in one pass over the output (tfjs only fuses
 * outside gradient tapes, or with a linear activation inside them). Other activations run on the cpu kernel.
 */
export const fusedConv2DKernel: NativeKernel = {
  kernelName: tf.FusedConv2D,
  run({ inputs, attrs }, backend, addon) {
    const { x, filter, bias, preluActivationWeights } = inputs as tf.FusedConv2DInputs;
    const conv = attrs as unknown as tf.FusedConv2DAttrs;
    const { activation } = conv;
    const xv = f32(backend, x);
    const wv = f32(backend, filter);
    if (!xv || !wv || conv.dataFormat === 'NCHW' || preluActivationWeights) return null;
    if (activation !== 'linear' && activation !== 'relu') return null;
    const info = conv2DInfo(x.shape, filter.shape, conv);
    let bv: Float32Array | null = null;
    if (bias) {
      bv = f32(backend, bias);
      // Only a per-output-channel vector ([C] or [1, ..., C]) is fused here.
      if (!bv || bv.length !== info.outChannels || bias.shape[bias.shape.length - 1] !== info.outChannels)
        return null;
    }
    const y = alloc(backend, sizeOf(info.outShape));
    addon.conv2d(xv, wv, bv, y, convGeom(info), activation === 'relu');
    return output(backend, info.outShape, y);
  },
};
