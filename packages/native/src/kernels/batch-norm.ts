import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, type NativeKernel } from './util';

/**
 * tf.batchNorm (FusedBatchNorm): y = offset + (x - mean) * scale / sqrt(variance + eps), per channel of the
 * last axis. Parameters with other lengths than 1 or C run on the cpu kernel.
 */
export const fusedBatchNormKernel: NativeKernel = {
  kernelName: tf.FusedBatchNorm,
  run({ inputs, attrs }, backend, addon) {
    const { x, mean, variance, scale, offset } = inputs as tf.FusedBatchNormInputs;
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    if (!x || !mean || !variance) return null;
    const channels = x.shape[x.shape.length - 1];
    const xv = f32(backend, x);
    const params = [mean, variance, scale, offset].map((t) => (t ? f32(backend, t) : undefined));
    if (!xv || !channels || params.some((p, i) => p === null || (i < 2 && !p))) return null;
    if (params.some((p) => p && p.length !== 1 && p.length !== channels)) return null;
    const y = alloc(backend, xv.length);
    const [m, v, s, o] = params as (Float32Array | undefined)[];
    addon.batchNorm(xv, m!, v!, s ?? null, o ?? null, varianceEpsilon ?? 0.001, channels, y);
    return output(backend, x.shape, y);
  },
};
