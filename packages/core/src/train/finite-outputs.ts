import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data';
import { EVAL_MODE, type Model } from '../models/model';
import { datasetBatch } from './evaluate';

/**
 * Throws unless `model` gives finite outputs on the first `batchSize` images of `ds`. An accuracy computed
 * from NaN or infinite logits (a diverged model, or finite weights whose outputs overflow) means nothing:
 * argMax of NaN logits picks class 0, so it would report the share of class 0 as an accuracy.
 */
export function assertFiniteOutputs(model: Model, ds: Dataset, batchSize: number, what: string): void {
  const { x, y } = datasetBatch(ds, 0, Math.min(batchSize, ds.count));
  try {
    const finite = tf.tidy(() => tf.all(tf.isFinite(model.forward(x, EVAL_MODE))).dataSync()[0]);
    if (!finite) {
      throw new Error(
        `${what} gives non-finite outputs (NaN or Infinity) on the test images: no accuracy is computed from it`,
      );
    }
  } finally {
    tf.dispose([x, y]);
  }
}
