import * as tf from '@tensorflow/tfjs-core';
import { checkFiniteNonNegative, checkSameLogitShapes } from './check';
import { klDivergence } from './kl-divergence';

export interface MatDistillationInputs {
  /** f_i(x_i'): peer i on its own adversarial examples. */
  ownStudent: tf.Tensor2D;
  /** f_j(x_i') for each other peer j: the teachers' view of peer i's adversarial examples. */
  ownTeachers: tf.Tensor2D[];
  /** f_i(x_j') for each other peer j (same order as `peerTeachers`). */
  peerStudents: tf.Tensor2D[];
  /** f_j(x_j') for each other peer j: each teacher on its own adversarial examples. */
  peerTeachers: tf.Tensor2D[];
  /** λ_own, weight of the distillation on peer i's own adversarial examples. */
  lambdaOwn: number;
  /** λ_peer, weight of the distillation on the other peers' adversarial examples. */
  lambdaPeer: number;
  /** τ, softmax temperature of the distillation. */
  tau: number;
}

/**
 * The distillation part of the Mutual Adversarial Training loss of peer i (Liu et al. 2021), with N−1 teachers:
 *
 *   L_i = base_i + λ_own  · mean_{j≠i} τ²·KL(σ(f_j(x_i')/τ) ‖ σ(f_i(x_i')/τ))
 *                + λ_peer · mean_{j≠i} τ²·KL(σ(f_j(x_j')/τ) ‖ σ(f_i(x_j')/τ))
 *
 * This function returns the two λ terms (add base_i, e.g. `madryLoss` or `tradesLoss`, to get L_i). Each KL
 * is a batch mean; τ² keeps the gradient scale independent of τ (Hinton et al. 2015). Teachers pass
 * through `stopGradient` inside `klDivergence`, so they receive zero gradient. An empty teacher list
 * contributes 0 (a single peer has no one to learn from).
 */
export function matDistillationLoss(inputs: MatDistillationInputs): tf.Scalar {
  const { ownStudent, ownTeachers, peerStudents, peerTeachers, lambdaOwn, lambdaPeer, tau } = inputs;
  checkFiniteNonNegative('matDistillationLoss', 'lambdaOwn', lambdaOwn);
  checkFiniteNonNegative('matDistillationLoss', 'lambdaPeer', lambdaPeer);
  if (!(tau > 0) || !Number.isFinite(tau))
    throw new Error(`matDistillationLoss: tau must be > 0, got ${tau}`);
  if (peerStudents.length !== peerTeachers.length) {
    throw new Error(
      `matDistillationLoss: ${peerStudents.length} peer students but ${peerTeachers.length} peer teachers; ` +
        "need one f_i(x_j') per f_j(x_j')",
    );
  }
  ownTeachers.forEach((t, j) => checkSameLogitShapes(`matDistillationLoss ownTeachers[${j}]`, t, ownStudent));
  peerTeachers.forEach((t, j) =>
    checkSameLogitShapes(`matDistillationLoss peer pair ${j}`, t, peerStudents[j]),
  );

  return tf.tidy(() => {
    const own = meanTemperedKl(
      ownTeachers.map((teacher) => [teacher, ownStudent]),
      tau,
    );
    const peer = meanTemperedKl(
      peerTeachers.map((teacher, j) => [teacher, peerStudents[j]]),
      tau,
    );
    return tf.add(tf.mul(lambdaOwn, own), tf.mul(lambdaPeer, peer));
  });
}

/** mean over pairs of τ²·KL(σ(teacher/τ) ‖ σ(student/τ)); 0 for no pairs. */
function meanTemperedKl(pairs: [tf.Tensor2D, tf.Tensor2D][], tau: number): tf.Scalar {
  if (pairs.length === 0) return tf.scalar(0);
  const kls = pairs.map(([teacher, student]) => klDivergence(teacher, student, tau));
  return tf.mul(tau * tau, tf.div(tf.addN(kls), pairs.length));
}
