import * as tf from '@tensorflow/tfjs-core';
import { nativeMatMul } from './batch-matmul';
import { f32, output, type NativeKernel } from './util';

/** tf.fused.matMul with a per-column bias and linear/relu; other variants run on the cpu kernel. */
export const fusedMatMulKernel: NativeKernel = {
  kernelName: tf._FusedMatMul,
  run({ inputs, attrs }, backend, addon) {
    const { a, b, bias, preluActivationWeights } = inputs as tf._FusedMatMulInputs;
    const { transposeA, transposeB, activation } = attrs as unknown as tf._FusedMatMulAttrs;
    if (preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return null;
    const bv = bias ? f32(backend, bias) : null;
    if (bias && !bv) return null;
    const res = nativeMatMul(backend, addon, a, b, transposeA, transposeB);
    if (!res) return null;
    const n = res.shape[res.shape.length - 1];
    if (bias && bv) {
      if (bv.length !== n || bias.shape[bias.shape.length - 1] !== n) return null;
      addon.binary(0, res.values, 0, bv, 2, res.values, n); // + bias row, in place
    }
    if (activation === 'relu') addon.relu(res.values, res.values);
    return output(backend, res.shape, res.values);
  },
};
