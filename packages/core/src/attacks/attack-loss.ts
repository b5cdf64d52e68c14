import * as tf from '@tensorflow/tfjs-core';
import { crossEntropyPerSample } from '../losses/cross-entropy';
import { softmaxKlPerSample } from '../losses/kl-divergence';
import { cwMarginPerSample } from './margin-losses';

/**
 * What the inner maximisation maximises.
 * - `ce`: cross-entropy with the true label, CE(f(x'), y) (Madry et al. 2018).
 * - `trades-kl`: KL(f(x) ‖ f(x')) = Σ_k p_k (log p_k − log q_k), p = softmax(f(x)), q = softmax(f(x'))
 *   (Zhang et al. 2019, TRADES); f(x) is computed once per attack and held constant.
 * - `cw`: the Carlini–Wagner margin max_{j≠y} z_j − z_y (margin-losses.ts); PGD on it is "CW-l∞".
 */
export type AttackLoss = 'ce' | 'trades-kl' | 'cw';
export const ATTACK_LOSSES: readonly AttackLoss[] = ['ce', 'trades-kl', 'cw'];

/**
 * Per-sample attack objective. Per sample (and summed by the caller, never averaged) so that each
 * example's gradient is independent of the batch size and of the other examples.
 */
export function attackObjective(
  loss: AttackLoss,
  advLogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  cleanLogits?: tf.Tensor2D,
): tf.Tensor1D {
  if (loss === 'ce') return crossEntropyPerSample(advLogits, labels);
  if (loss === 'cw') return cwMarginPerSample(advLogits, labels);
  if (!cleanLogits) throw new Error("attack loss 'trades-kl' needs the clean logits f(x)");
  return softmaxKlPerSample(cleanLogits, advLogits);
}
