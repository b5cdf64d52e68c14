import * as tf from '@tensorflow/tfjs-core';
import { GradientAttack } from './gradient-attack';
import type { NormGeometry } from './norm-geometry';
import { defaultPgdStepSize, DEFAULT_STEPS, resolveOptions, type PgdOptions } from './options';

/** Guards the division by a zero gradient or perturbation norm (torchattacks uses 1e-10). */
const TINY = 1e-12;

/** Per-sample l2 norm of a [B, H, W, C] tensor, shaped [B, 1, 1, 1] for broadcasting. */
function sampleL2Norm(t: tf.Tensor4D): tf.Tensor4D {
  return tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true)) as tf.Tensor4D;
}

/**
 * l2 geometry: steepest ascent is α·∇/‖∇‖₂; projection scales δ = x' − x back onto the ball when
 * ‖δ‖₂ > eps, then clips to [0, 1]. Clipping after the scaling never leaves the ball (each |δ_i| can only
 * shrink, because x itself is in the box), but it is not the exact projection onto ball ∩ box — the same
 * approximation as torchattacks `PGDL2` and cleverhans. Random start (torchattacks): a uniformly random
 * direction (normalised Gaussian) with radius eps·u, u ~ U(0, 1) per sample.
 */
export const L2_GEOMETRY: NormGeometry = {
  norm: 'l2',
  randomStart: (batch, dim, eps, rng) => {
    const delta = rng.fillNormal(new Float32Array(batch * dim));
    for (let b = 0; b < batch; b++) {
      const row = delta.subarray(b * dim, (b + 1) * dim);
      const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
      const scale = (eps * rng.uniform()) / Math.max(norm, TINY);
      for (let i = 0; i < dim; i++) row[i] *= scale;
    }
    return delta;
  },
  ascentStep: (grad, _xAdv, stepSize) =>
    tf.tidy(() => tf.mul(tf.div(grad, tf.add(sampleL2Norm(grad), TINY)), stepSize)),
  project: (xAdv, x, eps) =>
    tf.tidy(() => {
      const delta = tf.sub(xAdv, x) as tf.Tensor4D;
      const factor = tf.minimum(1, tf.div(eps, tf.maximum(sampleL2Norm(delta), TINY)));
      return tf.clipByValue(tf.add(x, tf.mul(delta, factor)), 0, 1) as tf.Tensor4D;
    }),
};

/**
 * PGD under the l2 norm — Madry et al. (2018), https://arxiv.org/abs/1706.06083 (torchattacks `PGDL2`).
 *
 *   x'ₜ₊₁ = clip_[0,1]( x + Π_{‖δ‖₂≤eps}( x'ₜ + α·∇/‖∇‖₂ − x ) )
 *
 * Defaults: steps 10, stepSize 2.5·eps/steps, randomStart true, restarts 1, loss 'ce', eval mode.
 *
 * @example new PgdL2({ eps: 1.5, rng: new Rng(1) }).attack(model, x, y)
 */
export class PgdL2 extends GradientAttack {
  constructor(options: PgdOptions) {
    super(
      'pgd-l2',
      L2_GEOMETRY,
      resolveOptions('pgd-l2', options, {
        steps: DEFAULT_STEPS,
        randomStart: true,
        stepSize: defaultPgdStepSize,
      }),
    );
  }
}
