import * as tf from '@tensorflow/tfjs-core';
import { checkFiniteNonNegative, checkSameLogitShapes } from './check';
import { crossEntropy } from './cross-entropy';
import { softmaxKlPerSample } from './kl-divergence';

/**
 * TRADES (Zhang et al. 2019) outer loss:
 *
 *   L = CE(f(x), y) + β · (1/B) Σ_b Σ_k p_{b,k} (log p_{b,k} − log q_{b,k}),
 *       p = softmax(f(x)),  q = softmax(f(x'))
 *
 * Matches the reference implementation (github.com/yaodongyu/TRADES, trades.py):
 * `criterion_kl = KLDivLoss(size_average=False)` applied to `(log_softmax(model(x_adv)), softmax(model(x_natural)))`
 * and divided by the batch size. Nothing is detached there: the gradient flows through BOTH f(x) (the
 * KL target) and f(x'), so neither side is stopped here either.
 */
export function tradesLoss(
  cleanLogits: tf.Tensor2D,
  advLogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  beta: number,
): tf.Scalar {
  checkSameLogitShapes('tradesLoss', cleanLogits, advLogits);
  checkFiniteNonNegative('tradesLoss', 'beta', beta);
  return tf.tidy(() => {
    const natural = crossEntropy(cleanLogits, labels);
    const robust = tf.mean(softmaxKlPerSample(cleanLogits, advLogits));
    return tf.add(natural, tf.mul(beta, robust));
  });
}
