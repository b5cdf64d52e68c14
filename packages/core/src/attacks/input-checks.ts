import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../models/model';

/** Throws unless x is [batch, H, W, C] for the model and y holds one label per image. */
export function checkAttackInputs(name: string, model: Model, x: tf.Tensor4D, y: tf.Tensor1D): void {
  const [h, w, c] = model.inputShape;
  if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
    throw new Error(`${name}: x must be [batch, ${h}, ${w}, ${c}] for model ${model.arch}, got [${x.shape}]`);
  }
  if (y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw new Error(`${name}: y must be [${x.shape[0]}] labels, got [${y.shape}]`);
  }
}

/** Per sample, whether the model (in `mode`) classifies x correctly: 1 or 0. */
export function correctMask(
  model: Model,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  mode: { training: boolean },
): Uint8Array {
  const t = tf.tidy(() =>
    tf.cast(tf.equal(tf.argMax(model.forward(x, mode), 1), tf.cast(y, 'int32')), 'int32'),
  );
  const out = Uint8Array.from(t.dataSync());
  t.dispose();
  return out;
}

/** Indices of the samples whose flag is set. */
export function indicesWhere(flags: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < flags.length; i++) if (flags[i]) out.push(i);
  return out;
}

/** Copies sample rows `from[k]` into `into[indices[k]]` for every k with `pick(k)` (flat NHWC rows of `dim`). */
export function writeRows(
  into: Float32Array,
  from: Float32Array | Int32Array | Uint8Array,
  indices: readonly number[],
  dim: number,
  pick: (k: number) => boolean,
): void {
  indices.forEach((target, k) => {
    if (pick(k)) into.set(from.subarray(k * dim, (k + 1) * dim), target * dim);
  });
}
