import type { Norm } from './attack';
import { GradientAttack } from './gradient-attack';
import { geometryFor } from './geometries';
import { resolveOptions, type PgdOptions } from './options';

/** Wong et al. (2020) found α = 1.25·eps best for FGSM from a random start. */
export const FGSM_RS_STEP_FACTOR = 1.25;

export interface FgsmOptions extends Omit<PgdOptions, 'steps' | 'rng'> {
  /** Threat model. @defaultValue 'linf' */
  norm?: Norm;
  /** Needed only with randomStart. */
  rng?: PgdOptions['rng'];
  /**
   * Start from a random point of the ball ("FGSM-RS", Wong et al. 2020, "Fast is better than free").
   * @defaultValue false (classic FGSM starts at x)
   */
  randomStart?: boolean;
  /** Step size. @defaultValue eps from x; 1.25·eps from a random start */
  stepSize?: number;
  /** SLIDE percentile for norm 'l1' (see PgdL1). @defaultValue 99 */
  sparsityQuantile?: number;
}

/**
 * Fast Gradient Sign Method — Goodfellow et al. (2015), "Explaining and harnessing adversarial examples",
 * https://arxiv.org/abs/1412.6572 (torchattacks `FGSM`): one steepest-ascent step, then projection.
 *
 *   x' = clip_[0,1]( x + eps·sign(∇ₓ L(f(x), y)) )                    (l∞)
 *
 * For l2 the step is eps·∇/‖∇‖₂, for l1 the SLIDE step of pgd-l1.ts. With randomStart it is FGSM-RS:
 * one step of 1.25·eps from a random point of the ball, projected back into it.
 *
 * @example new Fgsm({ eps: 0.1 }).attack(model, x, y)
 */
export class Fgsm extends GradientAttack {
  constructor(options: FgsmOptions) {
    const norm = options.norm ?? 'linf';
    const geometry = geometryFor(norm, options.sparsityQuantile);
    const randomStart = options.randomStart ?? false;
    super(
      `fgsm-${norm}`,
      geometry,
      resolveOptions(`fgsm-${norm}`, options, {
        steps: 1,
        randomStart: false,
        stepSize: (eps) => (randomStart ? FGSM_RS_STEP_FACTOR * eps : eps),
      }),
    );
  }
}
