import * as tf from '@tensorflow/tfjs-core';
import { checkLabels, checkLogits } from './check';

/**
 * Per-sample cross-entropy of integer labels:
 *
 *   CE_b = −log softmax(z_b)_{y_b} = logsumexp(z_b) − z_{b,y_b}
 *
 * computed through `logSoftmax` (max-shifted), so large logits never overflow.
 */
export function crossEntropyPerSample(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  checkLogits('crossEntropy', logits);
  checkLabels('crossEntropy', logits, labels);
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), classes);
    return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  });
}

/** Batch-mean cross-entropy: CE = (1/B) Σ_b −log softmax(z_b)_{y_b}. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(crossEntropyPerSample(logits, labels)));
}
