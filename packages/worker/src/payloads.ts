import * as tf from '@tensorflow/tfjs-core';
import type { TensorPayload } from '@mat/exchange';

/** Conversions between tfjs tensors and the exchange's plain float32 payloads (both step functions use them). */

export function toPayload(t: tf.Tensor): TensorPayload {
  return { shape: t.shape.slice(), data: t.dataSync() as Float32Array };
}

export function toTensor(p: TensorPayload): tf.Tensor {
  return tf.tensor(p.data, p.shape, 'float32');
}

/** Row k of a [N, B, K] labels payload as a [B, K] tensor (f_j on peer k's adversarial batch). */
export function rowOf(p: TensorPayload, k: number): tf.Tensor2D {
  const [, b, classes] = p.shape;
  const size = b * classes;
  return tf.tensor(p.data.subarray(k * size, (k + 1) * size), [b, classes], 'float32') as tf.Tensor2D;
}
