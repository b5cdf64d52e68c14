import type { Norm } from './attack';
import { GradientAttack } from './gradient-attack';
import { geometryFor } from './geometries';
import { defaultPgdStepSize, DEFAULT_STEPS, resolveOptions, type PgdOptions } from './options';

export interface CwOptions extends Omit<PgdOptions, 'loss'> {
  /** Threat model. @defaultValue 'linf' */
  norm?: Norm;
  /** SLIDE percentile for norm 'l1' (see PgdL1). @defaultValue 99 */
  sparsityQuantile?: number;
}

/**
 * "CW-l∞": PGD on the Carlini–Wagner margin instead of the cross-entropy — Carlini & Wagner (2017),
 * "Towards evaluating the robustness of neural networks", https://arxiv.org/abs/1608.04644, used as a PGD
 * loss in the TRADES and MART evaluations:
 *
 *   x'ₜ₊₁ = Π( x'ₜ + step(∇ₓ' [max_{j≠y} z_j(x'ₜ) − z_y(x'ₜ)]) )
 *
 * The margin does not saturate the way the softmax cross-entropy does on confident samples, so it finds
 * examples PGD-CE misses on models with large logits. Defined for every norm (the step and projection
 * are the norm's, as in PGD). Defaults as PGD: steps 10, stepSize 2.5·eps/steps, random start, eval mode.
 *
 * @example new CwPgd({ eps: 0.1, steps: 20, rng: new Rng(1) }).attack(model, x, y)
 */
export class CwPgd extends GradientAttack {
  constructor(options: CwOptions) {
    const norm = options.norm ?? 'linf';
    super(
      `cw-${norm}`,
      geometryFor(norm, options.sparsityQuantile),
      resolveOptions(
        `cw-${norm}`,
        { ...options, loss: 'cw' },
        { steps: DEFAULT_STEPS, randomStart: true, stepSize: defaultPgdStepSize },
      ),
    );
  }
}
