import * as tf from '@tensorflow/tfjs-core';
import type { ForwardMode, Model } from '../models/model';
import type { Rng } from '../rng';
import type { Norm } from './attack';
import { geometryFor } from './geometries';

/** Per-sample objective on the logits, maximised by APGD (labels and targets bound by the caller). */
export type LogitObjective = (logits: tf.Tensor2D) => tf.Tensor1D;

export interface ApgdRunOptions {
  norm: Norm;
  eps: number;
  /** Iterations N_iter. */
  steps: number;
  /** ρ, the fraction of improving steps below which a checkpoint halves the step size. */
  rho: number;
  mode: ForwardMode;
  /**
   * 'random' as the reference (noise from `rng`); 'clean' starts at x itself; `{ noise }` replays given
   * start noise (uniform in [−1, 1) for l∞, standard normal for l2 / l1), to compare with the reference.
   */
  start: 'random' | 'clean' | { noise: Float32Array };
  rng?: Rng;
  /** Called after every iteration. */
  onIteration?: () => void;
  /** Called at every checkpoint with the iteration index (0-based) and the per-sample step sizes after it. */
  onCheckpoint?: (iteration: number, stepSizes: Float32Array) => void;
}

export interface ApgdRunResult {
  /** Highest-objective point found, per sample. */
  xBest: tf.Tensor4D;
  /** A misclassified point where one was found (else the start). */
  xBestAdv: tf.Tensor4D;
  lossBest: Float32Array;
  /** 1 where some iterate was misclassified. */
  fooled: Uint8Array;
}

/** Checkpoint lengths of l∞/l2 APGD for N iterations (autopgd_base.py, `init_hyperparam`). */
export function apgdCheckpointParams(steps: number): { first: number; min: number; decrease: number } {
  return {
    first: Math.max(Math.floor(0.22 * steps), 1),
    min: Math.max(Math.floor(0.06 * steps), 1),
    decrease: Math.max(Math.floor(0.03 * steps), 1),
  };
}

/** Momentum α of the update: 1 (plain step) at the first iteration, 0.75 afterwards. */
export const APGD_MOMENTUM = 0.75;

/**
 * One run of Auto-PGD — Croce & Hein (2020), "Reliable evaluation of adversarial robustness with an ensemble
 * of diverse parameter-free attacks", https://arxiv.org/abs/2003.01690, Algorithm 1, following the authors'
 * code (fra31/auto-attack, autopgd_base.py, `attack_single_run`) step for step:
 *
 *   z⁽ᵏ⁺¹⁾ = P(x⁽ᵏ⁾ + η⁽ᵏ⁾ · s(∇f(x⁽ᵏ⁾)))                         s = sign (l∞), ∇/‖∇‖₂ (l2)
 *   x⁽ᵏ⁺¹⁾ = P(x⁽ᵏ⁾ + α(z⁽ᵏ⁺¹⁾ − x⁽ᵏ⁾) + (1 − α)(x⁽ᵏ⁾ − x⁽ᵏ⁻¹⁾))      α = 1 at k = 0, else 0.75
 *
 * with η⁽⁰⁾ = 2·eps and checkpoints w_j (the first after 0.22·N iterations, each next one shorter by
 * 0.03·N but at least 0.06·N long). At a checkpoint, a sample's step size is halved and it restarts from
 * its best point if
 *   (1) the objective increased in at most ρ·(w_j − w_{j−1}) of the iterations since the last checkpoint, or
 *   (2) its step size was not halved at the last checkpoint and its best objective has not improved since.
 * As in the reference, condition (1) at the first checkpoint compares the first iterate with a loss of 0.
 *
 * l1 (Croce & Hein 2021, "Mind the box: l1-APGD"): no momentum; the step moves the top-k coordinates of
 * |∇| (k adapted to the sparsity of the best point, initially 20 % of the dimensions) by η/#moved each and
 * projects exactly onto the l1-ball ∩ box; η⁽⁰⁾ = eps, and every 0.04·N iterations η is reset (and the best
 * point restored) where the best point became sparser by > 5 %, otherwise divided by 1.5, within
 * [eps/10, eps].
 *
 * The objective is per sample; the gradient is of its sum, so samples do not interact. Runs in `mode`
 * (eval by default); never updates the model.
 */
export function apgdRun(
  model: Model,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  objective: LogitObjective,
  opts: ApgdRunOptions,
): ApgdRunResult {
  const { norm, eps, steps, rho, mode } = opts;
  const [batch, h, w, c] = x.shape;
  const dim = h * w * c;
  const geometry = geometryFor(norm);
  const labels = tf.tidy(() => tf.cast(y, 'int32') as tf.Tensor1D);

  // ∇ of Σ_b objective_b, the objective per sample, and whether each sample is classified correctly.
  const evaluate = (xa: tf.Tensor4D): { loss: Float32Array; correct: Uint8Array; grad: tf.Tensor4D } => {
    let correctT: tf.Tensor | undefined;
    const { value, grad } = tf.valueAndGrad((xi: tf.Tensor) => {
      const logits = model.forward(xi as tf.Tensor4D, mode);
      correctT = tf.keep(tf.equal(tf.argMax(logits, 1), labels));
      return objective(logits);
    })(xa);
    const loss = Float32Array.from(value.dataSync());
    const correct = Uint8Array.from((correctT as tf.Tensor).dataSync());
    tf.dispose([value, correctT as tf.Tensor]);
    return { loss, correct, grad: grad as tf.Tensor4D };
  };
  const mask = (flags: ArrayLike<number>): tf.Tensor4D =>
    tf.tensor4d(Uint8Array.from(flags as ArrayLike<number>), [batch, 1, 1, 1], 'bool');
  /** Per sample: where flags[b], `a`, else `b`; disposes the replaced tensor `b`. */
  const replaceWhere = (flags: ArrayLike<number>, a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D => {
    const out = tf.tidy(() => tf.where(mask(flags), a, b) as tf.Tensor4D);
    b.dispose();
    return out;
  };

  let xAdv = startPoint(x, opts, geometry);
  let { loss, correct, grad } = evaluate(xAdv);
  const fooled = Uint8Array.from(correct, (ok) => 1 - ok);
  let xBest = tf.clone(xAdv);
  let xBestAdv = tf.clone(xAdv);
  let gradBest = tf.clone(grad);
  const lossBest = Float32Array.from(loss);

  const alpha = norm === 'l1' ? 1 : 2;
  const stepSize = new Float32Array(batch).fill(alpha * eps);
  let xAdvOld = tf.clone(xAdv);
  const checkpoints = apgdCheckpointParams(steps);
  let k = norm === 'l1' ? Math.max(Math.floor(0.04 * steps), 1) : checkpoints.first;
  let sinceCheckpoint = 0;
  const lossSteps = Array.from({ length: steps }, () => new Float32Array(batch));
  let lossBestLastCheck: Float32Array = Float32Array.from(lossBest);
  let reducedLastCheck: Uint8Array = new Uint8Array(batch).fill(1);
  // l1 only: fraction of coordinates a step moves, and the sparsity of the best point at the last checkpoint.
  const topFraction = new Float32Array(batch).fill(0.2);
  let sparsityOld: Float32Array = new Float32Array(batch).fill(dim);

  try {
    for (let i = 0; i < steps; i++) {
      // Gradient step (with momentum for l∞ / l2).
      const next =
        norm === 'l1'
          ? l1Step(xAdv, grad, x, stepSize, topFraction, eps, geometry.project)
          : tf.tidy(() => {
              const a = i > 0 ? APGD_MOMENTUM : 1;
              const eta = tf.tensor4d(stepSize, [batch, 1, 1, 1]);
              const direction =
                norm === 'linf' ? tf.sign(grad) : tf.div(grad, tf.add(perSampleL2(grad), 1e-12));
              const z = geometry.project(tf.add(xAdv, tf.mul(eta, direction)), x, eps);
              const momentum = tf.sub(xAdv, xAdvOld);
              const moved = tf.add(tf.add(xAdv, tf.mul(tf.sub(z, xAdv), a)), tf.mul(momentum, 1 - a));
              return geometry.project(moved as tf.Tensor4D, x, eps);
            });
      xAdvOld.dispose();
      xAdvOld = xAdv;
      xAdv = next;

      grad.dispose();
      ({ loss, correct, grad } = evaluate(xAdv));
      const newlyFooled = Uint8Array.from(correct, (ok) => 1 - ok);
      newlyFooled.forEach((f, b) => {
        if (f) fooled[b] = 1;
      });
      xBestAdv = replaceWhere(newlyFooled, xAdv, xBestAdv);

      const improved = Uint8Array.from(loss, (l, b) => (l > lossBest[b] ? 1 : 0));
      xBest = replaceWhere(improved, xAdv, xBest);
      gradBest = replaceWhere(improved, grad, gradBest);
      improved.forEach((imp, b) => {
        if (imp) lossBest[b] = loss[b];
      });
      lossSteps[i].set(loss);

      if (++sinceCheckpoint < k) {
        opts.onIteration?.();
        continue;
      }
      let restart: Uint8Array;
      if (norm === 'l1') {
        const sparsity = l0PerSample(xBest, x);
        restart = Uint8Array.from(sparsity, (s, b) => (s / sparsityOld[b] < 0.95 ? 1 : 0));
        for (let b = 0; b < batch; b++) {
          topFraction[b] = sparsity[b] / dim / 1.5;
          const eta = restart[b] ? alpha * eps : stepSize[b] / 1.5;
          stepSize[b] = Math.min(Math.max(eta, (alpha * eps) / 10), alpha * eps);
        }
        sparsityOld = sparsity;
      } else {
        restart = new Uint8Array(batch);
        for (let b = 0; b < batch; b++) {
          let increases = 0;
          for (let back = 0; back < k; back++) {
            // The reference indexes the loss history with i − back − 1 = −1 at the first checkpoint, which
            // Python wraps to the last (still zero) row.
            const prev = lossSteps[(i - back - 1 + steps) % steps][b];
            if (lossSteps[i - back][b] > prev) increases++;
          }
          const oscillates = increases <= k * rho;
          const stalled = !reducedLastCheck[b] && lossBestLastCheck[b] >= lossBest[b];
          restart[b] = oscillates || stalled ? 1 : 0;
          if (restart[b]) stepSize[b] /= 2;
        }
        reducedLastCheck = restart;
        lossBestLastCheck = Float32Array.from(lossBest);
        k = Math.max(k - checkpoints.decrease, checkpoints.min);
      }
      if (restart.some((r) => r)) {
        xAdv = replaceWhere(restart, xBest, xAdv);
        grad = replaceWhere(restart, gradBest, grad);
      }
      sinceCheckpoint = 0;
      opts.onCheckpoint?.(i, Float32Array.from(stepSize));
      opts.onIteration?.();
    }
    return { xBest, xBestAdv, lossBest, fooled };
  } catch (e) {
    tf.dispose([xBest, xBestAdv]);
    throw e;
  } finally {
    tf.dispose([xAdv, xAdvOld, grad, gradBest, labels]);
  }
}

/** The reference's random start: a point on the l∞ / l2 sphere of radius eps, or a projected Gaussian for l1. */
function startPoint(
  x: tf.Tensor4D,
  opts: ApgdRunOptions,
  geometry: ReturnType<typeof geometryFor>,
): tf.Tensor4D {
  const { eps, norm, rng, start } = opts;
  if (start === 'clean') return tf.clone(x);
  const [batch, h, w, c] = x.shape;
  const dim = h * w * c;
  let t: Float32Array;
  if (start !== 'random') {
    if (start.noise.length !== batch * dim)
      throw new Error(`apgd: start noise has ${start.noise.length} values, expected ${batch * dim}`);
    t = Float32Array.from(start.noise);
  } else if (!rng) {
    throw new Error('apgd: a random start needs an rng');
  } else {
    t = new Float32Array(batch * dim);
    if (norm === 'linf') rng.fillUniform(t, -1, 1);
    else rng.fillNormal(t);
  }
  if (norm === 'l1') return tf.tidy(() => geometry.project(tf.add(x, tf.tensor4d(t, x.shape)), x, eps));
  for (let b = 0; b < batch; b++) {
    const row = t.subarray(b * dim, (b + 1) * dim);
    let size = 0;
    for (const v of row) size = norm === 'linf' ? Math.max(size, Math.abs(v)) : size + v * v;
    if (norm === 'l2') size = Math.sqrt(size);
    const scale = eps / (size + 1e-12);
    for (let i = 0; i < dim; i++) row[i] *= scale;
  }
  return tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor4d(t, x.shape)), 0, 1) as tf.Tensor4D);
}

function perSampleL2(t: tf.Tensor4D): tf.Tensor4D {
  return tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true)) as tf.Tensor4D;
}

/** Number of non-zero coordinates of x' − x, per sample. */
function l0PerSample(xAdv: tf.Tensor4D, x: tf.Tensor4D): Float32Array {
  const t = tf.tidy(() => tf.sum(tf.cast(tf.notEqual(xAdv, x), 'float32'), [1, 2, 3]));
  const out = Float32Array.from(t.dataSync());
  t.dispose();
  return out;
}

/**
 * The l1-APGD step: move the coordinates whose |∇| is at least the (1 − topFraction) quantile by ±η/#moved,
 * then project exactly onto the l1-ball ∩ box.
 */
function l1Step(
  xAdv: tf.Tensor4D,
  grad: tf.Tensor4D,
  x: tf.Tensor4D,
  stepSize: Float32Array,
  topFraction: Float32Array,
  eps: number,
  project: (xAdv: tf.Tensor4D, x: tf.Tensor4D, eps: number) => tf.Tensor4D,
): tf.Tensor4D {
  const [batch, h, w, c] = x.shape;
  const dim = h * w * c;
  const g = grad.dataSync();
  const moved = Float32Array.from(xAdv.dataSync());
  const magnitudes = new Float32Array(dim);
  for (let b = 0; b < batch; b++) {
    const row = g.subarray(b * dim, (b + 1) * dim);
    for (let i = 0; i < dim; i++) magnitudes[i] = Math.abs(row[i]);
    magnitudes.sort();
    const position = Math.min(Math.max(Math.floor((1 - topFraction[b]) * dim), 0), dim - 1);
    const threshold = magnitudes[position];
    let count = 0;
    for (let i = 0; i < dim; i++) if (Math.abs(row[i]) >= threshold && row[i] !== 0) count++;
    const scale = stepSize[b] / (count + 1e-10);
    for (let i = 0; i < dim; i++) {
      if (Math.abs(row[i]) >= threshold && row[i] !== 0) moved[b * dim + i] += Math.sign(row[i]) * scale;
    }
  }
  return tf.tidy(() => project(tf.tensor4d(moved, x.shape), x, eps));
}
