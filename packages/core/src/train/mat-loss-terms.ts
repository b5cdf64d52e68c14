import * as tf from '@tensorflow/tfjs-core';
import type { RunConfig } from '../config/schema';
import { crossEntropy, matDistillationLoss, tradesLoss } from '../losses';
import { TRAIN_MODE, type Model } from '../models/model';
import { PEER_BATCH_MODE } from './peer';
import { stackedTypes } from './perturbations';

/** What peer i needs besides its own model to compute its loss at one step. */
export interface PeerLossInputs {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  /** x_i': this peer's adversarial examples. */
  ownAdv: tf.Tensor4D;
  /** x_j' for every other peer j (same order as the teacher lists). */
  peerAdvs: tf.Tensor4D[];
  /** f_j(x_i') for every other peer j, detached. */
  ownTeachers: tf.Tensor2D[];
  /**
   * Bounded staleness: the earlier x_i' that ownTeachers label, when it is not ownAdv. The own-examples KL
   * term is then taken on it (batch statistics, no running-average update); ownAdv when omitted.
   */
  ownTeachersAdv?: tf.Tensor4D;
  /** f_j(x_j') for every other peer j, detached. */
  peerTeachers: tf.Tensor2D[];
}

export interface PeerLossParts {
  total: tf.Scalar;
  base: tf.Scalar;
  distill: tf.Scalar;
  /** f_i(x_i'), for the batch's adversarial accuracy. */
  ownLogits: tf.Tensor2D;
  /** The labels of ownLogits' rows: y, repeated once per perturbation type x_i' stacks (MAT-MP `average`). */
  labels: tf.Tensor1D;
}

/**
 * The loss of peer i (Liu et al. 2021, Mutual Adversarial Training):
 *
 *   L_i = base_i + λ_own · mean_{j≠i} τ²·KL(σ(f_j(x_i')/τ) ‖ σ(f_i(x_i')/τ))
 *                + λ_peer · mean_{j≠i} τ²·KL(σ(f_j(x_j')/τ) ‖ σ(f_i(x_j')/τ))
 *
 * base_i = CE(f_i(x_i'), y) for Madry AT, or CE(f_i(x), y) + β·KL(f_i(x) ‖ f_i(x_i')) for TRADES.
 * Teachers f_j are inputs (already detached). Must run inside the gradient scope of peer i's parameters.
 *
 * x_i' may stack k adversarial batches of the clean batch (MAT-MP `average`, one per perturbation type);
 * y and f_i(x) are then repeated k times, so every batch-mean term above becomes the mean over the types.
 */
export function peerLoss(model: Model, inputs: PeerLossInputs, method: RunConfig['method']): PeerLossParts {
  const k = stackedTypes(inputs.ownAdv, inputs.x);
  const labels = k === 1 ? inputs.y : (tf.tile(inputs.y, [k]) as tf.Tensor1D);
  // The one forward per step that updates batch-norm running statistics.
  const ownLogits = model.forward(inputs.ownAdv, TRAIN_MODE);
  const cleanLogits = () => {
    const logits = model.forward(inputs.x, PEER_BATCH_MODE);
    return k === 1 ? logits : (tf.tile(logits, [k, 1]) as tf.Tensor2D);
  };
  const base =
    method.base === 'trades'
      ? tradesLoss(cleanLogits(), ownLogits, labels, method.tradesBeta)
      : crossEntropy(ownLogits, labels);
  const peerStudents = inputs.peerAdvs.map((adv) => model.forward(adv, PEER_BATCH_MODE));
  const ownStudent = inputs.ownTeachersAdv
    ? model.forward(inputs.ownTeachersAdv, PEER_BATCH_MODE)
    : ownLogits;
  const distill = matDistillationLoss({
    ownStudent,
    ownTeachers: inputs.ownTeachers,
    peerStudents,
    peerTeachers: inputs.peerTeachers,
    lambdaOwn: method.lambdaOwn,
    lambdaPeer: method.lambdaPeer,
    tau: method.tau,
  });
  return { total: tf.add(base, distill), base, distill, ownLogits, labels };
}
