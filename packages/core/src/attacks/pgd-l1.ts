import * as tf from '@tensorflow/tfjs-core';
import { GradientAttack } from './gradient-attack';
import { projectOntoL1BallInBox, roundTowards } from './l1-projection';
import type { NormGeometry } from './norm-geometry';
import {
  checkSparsityQuantile,
  defaultPgdStepSize,
  DEFAULT_STEPS,
  resolveOptions,
  type PgdOptions,
} from './options';

/** Default SLIDE percentile: step on the top 1 % of gradient coordinates (Tramer & Boneh 2019; cleverhans). */
export const DEFAULT_L1_SPARSITY_QUANTILE = 99;

/**
 * Number of coordinates a SLIDE step keeps out of `dim` for percentile q: the ones whose |gradient| is at
 * least the value at sorted position ⌊q/100 · dim⌋ (as cleverhans `sparse_l1_descent`), i.e. the top
 * dim − ⌊q/100 · dim⌋ (at least 1). Ties at the threshold are all kept.
 */
export function slideKeepCount(dim: number, quantile: number): number {
  return Math.max(1, dim - Math.floor((quantile / 100) * dim));
}

/**
 * l1 geometry for SLIDE (Sparse l1 Descent).
 *
 * Step: with g = ∇ₓ' L, drop the coordinates where a step would leave the box (x'_i = 0 with g_i < 0, or
 * x'_i = 1 with g_i > 0; cleverhans' `clip_grad`), keep the k coordinates of largest |g_i| (k from the
 * percentile q), and spread the step evenly over them:
 *
 *   e_i = sign(g_i)·[|g_i| ≥ P_q(|g|)] / #kept,   x' ← x' + α·e      (‖α·e‖₁ = α)
 *
 * Projection: the exact Euclidean projection onto {‖δ‖₁ ≤ eps} ∩ {0 ≤ x + δ ≤ 1} (l1-projection.ts; not
 * "l1 projection then clip", which is feasible but generally not the nearest point), computed per sample
 * in float64 JavaScript, then rounded to float32 towards x so the l1 bound survives the rounding.
 *
 * Random start (cleverhans `random_lp_vector`, uniform in the l1 ball): Laplace(0, 1) coordinates,
 * normalised to l1 norm 1, times eps·u^(1/dim), u ~ U(0, 1).
 */
export function l1Geometry(quantile = DEFAULT_L1_SPARSITY_QUANTILE): NormGeometry {
  checkSparsityQuantile('l1 attack', quantile);
  return {
    norm: 'l1',
    randomStart: (batch, dim, eps, rng) => {
      const delta = new Float32Array(batch * dim);
      for (let b = 0; b < batch; b++) {
        const row = new Float64Array(dim);
        let norm = 0;
        for (let i = 0; i < dim; i++) {
          row[i] = laplace(rng.uniform());
          norm += Math.abs(row[i]);
        }
        const scale = (eps * Math.pow(rng.uniform(), 1 / dim)) / Math.max(norm, 1e-300);
        for (let i = 0; i < dim; i++) delta[b * dim + i] = row[i] * scale;
      }
      return delta;
    },
    ascentStep: (grad, xAdv, stepSize) =>
      tf.tidy(() => {
        const [batch, h, w, c] = grad.shape;
        const dim = h * w * c;
        const blocked = tf.logicalOr(
          tf.logicalAnd(tf.lessEqual(xAdv, 0), tf.less(grad, 0)),
          tf.logicalAnd(tf.greaterEqual(xAdv, 1), tf.greater(grad, 0)),
        );
        const magnitude = tf.reshape(tf.where(blocked, tf.zerosLike(grad), tf.abs(grad)), [batch, dim]);
        const k = slideKeepCount(dim, quantile);
        const threshold = tf.slice(tf.topk(magnitude, k).values, [0, k - 1], [batch, 1]);
        const kept = tf.cast(
          tf.logicalAnd(tf.greaterEqual(magnitude, threshold), tf.greater(magnitude, 0)),
          'float32',
        );
        const count = tf.maximum(tf.sum(kept, 1, true), 1);
        const direction = tf.div(tf.mul(tf.sign(tf.reshape(grad, [batch, dim])), kept), count);
        return tf.reshape(tf.mul(direction, stepSize), grad.shape) as tf.Tensor4D;
      }),
    project: (xAdv, x, eps) => projectL1Box(xAdv, x, eps),
  };
}

/** Inverse-CDF Laplace(0, 1) sample from u ∈ [0, 1). */
function laplace(u: number): number {
  const centred = u - 0.5;
  return -Math.sign(centred) * Math.log(Math.max(1 - 2 * Math.abs(centred), 1e-300));
}

/** Exact per-sample projection of x' onto {‖x' − x‖₁ ≤ eps} ∩ [0, 1]. */
function projectL1Box(xAdv: tf.Tensor4D, x: tf.Tensor4D, eps: number): tf.Tensor4D {
  const [batch, h, w, c] = x.shape;
  const dim = h * w * c;
  const adv = xAdv.dataSync();
  const clean = x.dataSync();
  const out = new Float32Array(batch * dim);
  const v = new Float64Array(dim);
  const lo = new Float64Array(dim);
  const hi = new Float64Array(dim);
  for (let b = 0; b < batch; b++) {
    const offset = b * dim;
    for (let i = 0; i < dim; i++) {
      const xi = clean[offset + i];
      if (!(xi >= 0 && xi <= 1))
        throw new Error(`l1 attack: inputs must be in [0, 1], got x = ${xi} at index ${offset + i}`);
      v[i] = adv[offset + i] - xi;
      lo[i] = -clean[offset + i];
      hi[i] = 1 - clean[offset + i];
    }
    const delta = projectOntoL1BallInBox(v, eps, lo, hi);
    for (let i = 0; i < dim; i++) out[offset + i] = roundTowards(clean[offset + i], delta[i]);
  }
  return tf.tensor4d(out, x.shape);
}

export interface PgdL1Options extends PgdOptions {
  /**
   * SLIDE percentile q: each step moves only the coordinates whose |gradient| is in the top (100 − q) %.
   * @defaultValue 99
   */
  sparsityQuantile?: number;
}

/**
 * PGD under the l1 norm with SLIDE steps — Tramer & Boneh (2019), "Adversarial training and robustness
 * for multiple perturbations", https://arxiv.org/abs/1904.13000 (cleverhans `SparseL1Descent`). Plain
 * steepest ascent for l1 moves a single coordinate per step; SLIDE moves the top (100 − q) % instead.
 *
 *   x'ₜ₊₁ = Π_{‖x'−x‖₁ ≤ eps, x' ∈ [0,1]}( x'ₜ + α·e(∇ₓ' L) )          e: see `l1Geometry`
 *
 * Inputs must be in [0, 1] (the clean x is assumed to be in the box).
 * Defaults: steps 10, stepSize 2.5·eps/steps, randomStart true, restarts 1, loss 'ce', eval mode, q = 99.
 *
 * @example new PgdL1({ eps: 10, steps: 20, rng: new Rng(1) }).attack(model, x, y)
 */
export class PgdL1 extends GradientAttack {
  constructor(options: PgdL1Options) {
    super(
      'pgd-l1',
      l1Geometry(options.sparsityQuantile ?? DEFAULT_L1_SPARSITY_QUANTILE),
      resolveOptions('pgd-l1', options, {
        steps: DEFAULT_STEPS,
        randomStart: true,
        stepSize: defaultPgdStepSize,
      }),
    );
  }
}
