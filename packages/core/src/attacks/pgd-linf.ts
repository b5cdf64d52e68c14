import * as tf from '@tensorflow/tfjs-core';
import { GradientAttack } from './gradient-attack';
import type { NormGeometry } from './norm-geometry';
import { defaultPgdStepSize, DEFAULT_STEPS, resolveOptions, type PgdOptions } from './options';

/**
 * l∞ geometry: steepest ascent is α·sign(∇); the projection onto {‖x' − x‖∞ ≤ eps} ∩ [0, 1] is a
 * per-coordinate clip to [max(x − eps, 0), min(x + eps, 1)] (exact: the set is a box). Random start:
 * uniform in [−eps, eps] per coordinate.
 */
export const LINF_GEOMETRY: NormGeometry = {
  norm: 'linf',
  randomStart: (batch, dim, eps, rng) => rng.fillUniform(new Float32Array(batch * dim), -eps, eps),
  ascentStep: (grad, _xAdv, stepSize) => tf.tidy(() => tf.mul(tf.sign(grad), stepSize)),
  project: (xAdv, x, eps) =>
    tf.tidy(
      () => tf.clipByValue(tf.minimum(tf.maximum(xAdv, tf.sub(x, eps)), tf.add(x, eps)), 0, 1) as tf.Tensor4D,
    ),
};

/**
 * PGD under the l∞ norm — Madry et al. (2018), "Towards deep learning models resistant to adversarial
 * attacks", https://arxiv.org/abs/1706.06083 (torchattacks `PGD`).
 *
 *   x'ₜ₊₁ = clip_[0,1]( clip_[x−eps, x+eps]( x'ₜ + α·sign(∇ₓ' L) ) )
 *
 * Defaults: steps 10, stepSize 2.5·eps/steps, randomStart true, restarts 1, loss 'ce', eval mode.
 *
 * @example new PgdLinf({ eps: 0.1, steps: 20, rng: new Rng(1) }).attack(model, x, y)
 */
export class PgdLinf extends GradientAttack {
  constructor(options: PgdOptions) {
    super(
      'pgd-linf',
      LINF_GEOMETRY,
      resolveOptions('pgd-linf', options, {
        steps: DEFAULT_STEPS,
        randomStart: true,
        stepSize: defaultPgdStepSize,
      }),
    );
  }
}
