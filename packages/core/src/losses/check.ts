import type * as tf from '@tensorflow/tfjs-core';

/** Throws unless `logits` is [batch, classes]. */
export function checkLogits(what: string, logits: tf.Tensor): void {
  if (logits.rank !== 2)
    throw new Error(`${what}: expected logits of shape [batch, classes], got [${logits.shape}]`);
}

/** Throws unless both logits have the same [batch, classes] shape. */
export function checkSameLogitShapes(what: string, a: tf.Tensor, b: tf.Tensor): void {
  checkLogits(what, a);
  checkLogits(what, b);
  if (a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1]) {
    throw new Error(`${what}: logits shapes differ: [${a.shape}] vs [${b.shape}]`);
  }
}

/** Throws unless `labels` is [batch] matching the logits' batch. */
export function checkLabels(what: string, logits: tf.Tensor, labels: tf.Tensor): void {
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(`${what}: expected labels of shape [${logits.shape[0]}], got [${labels.shape}]`);
  }
}

export function checkFiniteNonNegative(what: string, name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${what}: ${name} must be a finite number ≥ 0, got ${value}`);
}
