import type * as tf from '@tensorflow/tfjs-core';
import { crossEntropy } from './cross-entropy';

/**
 * Madry et al. (2018) adversarial training loss: cross-entropy on the adversarial examples,
 *
 *   L = CE(f(x'), y) = (1/B) Σ_b −log softmax(f(x'_b))_{y_b}.
 */
export function madryLoss(advLogits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return crossEntropy(advLogits, labels);
}
