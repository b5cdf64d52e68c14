import * as tf from '@tensorflow/tfjs-core';
import { createAttack, type AttackSpec } from '../attacks';
import type { Dataset } from '../data';
import { EVAL_MODE, type Model } from '../models/model';
import { evalRng } from './streams';

export interface EvalResult {
  count: number;
  /** Fraction of clean test images classified correctly. */
  cleanAccuracy: number;
  /** Fraction still classified correctly under the attack. */
  robustAccuracy: number;
}

/** Returns a batch of the dataset as tensors: x [B,H,W,C] in [0,1], y int32 [B]. */
export function datasetBatch(ds: Dataset, start: number, size: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const [h, w, c] = ds.shape;
  const pixels = h * w * c;
  const n = Math.min(size, ds.count - start);
  const x = new Float32Array(n * pixels);
  const src = ds.images.subarray(start * pixels, (start + n) * pixels);
  for (let i = 0; i < x.length; i++) x[i] = src[i] / 255;
  return {
    x: tf.tensor4d(x, [n, h, w, c]),
    y: tf.tensor1d(ds.labels.subarray(start, start + n), 'int32'),
  };
}

/** Clean and adversarial accuracy of one model (eval-mode batch norm), batch by batch. */
export function evaluateModel(
  model: Model,
  ds: Dataset,
  opts: {
    attack: AttackSpec;
    batchSize: number;
    seed: number;
    onBatch?: (done: number, total: number) => void;
  },
): EvalResult {
  let clean = 0;
  let robust = 0;
  for (let start = 0, b = 0; start < ds.count; start += opts.batchSize, b++) {
    const { x, y } = datasetBatch(ds, start, opts.batchSize);
    const adv = createAttack(opts.attack, evalRng(opts.seed, b)).attack(model, x, y);
    const [c, r] = tf.tidy(() => [correctCount(model, x, y), correctCount(model, adv, y)]);
    clean += c.dataSync()[0];
    robust += r.dataSync()[0];
    tf.dispose([x, y, adv, c, r]);
    opts.onBatch?.(Math.min(start + opts.batchSize, ds.count), ds.count);
  }
  return { count: ds.count, cleanAccuracy: clean / ds.count, robustAccuracy: robust / ds.count };
}

function correctCount(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): tf.Scalar {
  const predicted = tf.argMax(model.forward(x, EVAL_MODE), 1);
  return tf.sum(tf.cast(tf.equal(predicted, tf.cast(y, 'int32')), 'int32'));
}
