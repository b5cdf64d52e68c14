import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../models/model';
import type { Attack, Norm } from './attack';
import { attackUnfooled } from './apgd';
import { resolveApgdOptions, type ApgdCommonOptions, type ResolvedApgdOptions } from './apgd-options';
import { checkAttackInputs } from './input-checks';
import { targetedDlrPerSample } from './margin-losses';

/** AutoAttack's standard number of target classes (all but the true one on CIFAR-10). */
export const APGD_T_DEFAULT_TARGETS = 9;

export interface ApgdTargetedOptions extends ApgdCommonOptions {
  /**
   * Target classes tried in turn: the 2nd, 3rd, … most likely classes at the clean input. Capped at
   * numClasses − 1. @defaultValue 9
   */
  targetClasses?: number;
}

/**
 * APGD-T — Croce & Hein (2020), https://arxiv.org/abs/2003.01690, AutoAttack's targeted APGD on the
 * targeted DLR loss (margin-losses.ts), following `APGDAttack_targeted.perturb` of fra31/auto-attack:
 * for t = 2 … targetClasses + 1, and for each restart, the samples still classified correctly are attacked
 * towards the class with the t-th largest clean logit. Success is untargeted (any wrong class). Needs at
 * least 4 classes.
 *
 * Defaults: l∞, 100 iterations, 9 target classes, 1 restart each, ρ = 0.75, random start, eval mode.
 *
 * @example new ApgdTargeted({ eps: 0.1, rng: new Rng(1) }).attack(model, x, y)
 */
export class ApgdTargeted implements Attack {
  readonly name = 'apgd-t';
  readonly norm: Norm;
  readonly eps: number;
  readonly options: Readonly<ResolvedApgdOptions>;
  readonly targetClasses: number;

  constructor(options: ApgdTargetedOptions) {
    this.options = resolveApgdOptions(this.name, options);
    this.norm = this.options.norm;
    this.eps = this.options.eps;
    const targets = options.targetClasses ?? APGD_T_DEFAULT_TARGETS;
    if (!Number.isInteger(targets) || targets < 1)
      throw new Error(`apgd-t: targetClasses must be an integer ≥ 1, got ${targets}`);
    this.targetClasses = targets;
  }

  attack(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor4D {
    checkAttackInputs(this.name, model, x, y);
    if (model.numClasses < 4)
      throw new Error(
        `apgd-t: the targeted DLR loss needs at least 4 classes, model has ${model.numClasses}`,
      );
    const targets = Math.min(this.targetClasses, model.numClasses - 1);
    const { restarts, steps } = this.options;
    return attackUnfooled(model, x, y, this.options, targets * restarts * steps, (run) => {
      for (let rank = 2; rank <= targets + 1; rank++) {
        for (let r = 0; r < restarts; r++) {
          const more = run(
            (labels, target) => (logits) => targetedDlrPerSample(logits, labels, target as tf.Tensor1D),
            rank,
          );
          if (!more) return;
        }
      }
    });
  }
}
