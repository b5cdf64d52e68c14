import * as tf from '@tensorflow/tfjs-core';
import { crossEntropyPerSample } from '../losses/cross-entropy';
import type { Model } from '../models/model';
import type { Attack, Norm } from './attack';
import { resolveApgdOptions, type ApgdCommonOptions, type ResolvedApgdOptions } from './apgd-options';
import { apgdRun, type LogitObjective } from './apgd-run';
import { checkAttackInputs, correctMask, indicesWhere, writeRows } from './input-checks';
import { dlrPerSample } from './margin-losses';

export type ApgdLoss = 'ce' | 'dlr';

export interface ApgdOptions extends ApgdCommonOptions {
  /** Objective: cross-entropy (APGD-CE) or the Difference of Logits Ratio (APGD-DLR). @defaultValue 'ce' */
  loss?: ApgdLoss;
}

/**
 * Auto-PGD (untargeted) — Croce & Hein (2020), https://arxiv.org/abs/2003.01690: PGD with momentum and a
 * step size that adapts itself at checkpoints (apgd-run.ts), the first attack of AutoAttack. Like the
 * reference `APGDAttack.perturb`, samples the model already misclassifies are returned unchanged and each
 * restart attacks only the samples still classified correctly. A sample no run fooled gets the point of
 * highest objective found.
 *
 * Defaults: l∞, 100 iterations, 1 restart, ρ = 0.75, random start, eval mode.
 *
 * @example new Apgd({ eps: 0.1, loss: 'ce', rng: new Rng(1) }).attack(model, x, y)
 */
export class Apgd implements Attack {
  readonly name: string;
  readonly norm: Norm;
  readonly eps: number;
  readonly options: Readonly<ResolvedApgdOptions>;
  readonly loss: ApgdLoss;

  constructor(options: ApgdOptions) {
    const loss = options.loss ?? 'ce';
    if (loss !== 'ce' && loss !== 'dlr')
      throw new Error(`apgd: unknown loss '${loss as string}'; known: ce, dlr`);
    this.loss = loss;
    this.name = `apgd-${loss}`;
    this.options = resolveApgdOptions(this.name, options);
    this.norm = this.options.norm;
    this.eps = this.options.eps;
  }

  attack(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor4D {
    checkAttackInputs(this.name, model, x, y);
    const objectiveFor = (labels: tf.Tensor1D): LogitObjective =>
      this.loss === 'ce'
        ? (logits) => crossEntropyPerSample(logits, labels)
        : (logits) => dlrPerSample(logits, labels);
    const { restarts, steps } = this.options;
    return attackUnfooled(model, x, y, this.options, restarts * steps, (run) => {
      for (let r = 0; r < restarts; r++) if (!run(objectiveFor)) break;
    });
  }
}

/** Builds a run's objective from the labels of the samples it attacks (and their targets, for APGD-T). */
export type ObjectiveFactory = (labels: tf.Tensor1D, targets?: tf.Tensor1D) => LogitObjective;

/**
 * The restart bookkeeping shared by APGD and APGD-T. `schedule` calls `run(objectiveFor, targetRank?)` once
 * per run; each run attacks only the samples not yet fooled and returns false once every sample is fooled.
 * With `targetRank` r, each sample's target is the class with its r-th largest clean logit.
 */
export function attackUnfooled(
  model: Model,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: Readonly<ResolvedApgdOptions>,
  totalIterations: number,
  schedule: (run: (objectiveFor: ObjectiveFactory, targetRank?: number) => boolean) => void,
): tf.Tensor4D {
  const { onProgress } = options;
  const [batch, h, w, c] = x.shape;
  const dim = h * w * c;
  const result = Float32Array.from(x.dataSync());
  // A misclassified sample is already adversarial (reference: acc = y_pred == y).
  const robust = correctMask(model, x, y, options.mode);
  const bestLoss = new Float64Array(batch).fill(-Infinity);
  let done = 0;
  const run = (objectiveFor: ObjectiveFactory, targetRank?: number): boolean => {
    const indices = indicesWhere(robust);
    if (indices.length === 0) return false;
    const idx = tf.tensor1d(indices, 'int32');
    const xs = tf.gather(x, idx) as tf.Tensor4D;
    const ys = tf.tidy(() => tf.cast(tf.gather(y, idx), 'int32') as tf.Tensor1D);
    const targets =
      targetRank === undefined
        ? undefined
        : tf.tidy(() => {
            const order = tf.topk(model.forward(xs, options.mode), targetRank).indices;
            return tf.reshape(tf.slice(order, [0, targetRank - 1], [-1, 1]), [-1]) as tf.Tensor1D;
          });
    try {
      const res = apgdRun(model, xs, ys, objectiveFor(ys, targets), {
        norm: options.norm,
        eps: options.eps,
        steps: options.steps,
        rho: options.rho,
        mode: options.mode,
        start: options.randomStart ? 'random' : 'clean',
        rng: options.rng,
        onIteration: () => onProgress?.(++done, totalIterations),
      });
      const adv = res.xBestAdv.dataSync() as Float32Array;
      const best = res.xBest.dataSync() as Float32Array;
      writeRows(result, adv, indices, dim, (k) => res.fooled[k] === 1);
      writeRows(result, best, indices, dim, (k) => !res.fooled[k] && res.lossBest[k] > bestLoss[indices[k]]);
      indices.forEach((sample, k) => {
        if (res.fooled[k]) robust[sample] = 0;
        else bestLoss[sample] = Math.max(bestLoss[sample], res.lossBest[k]);
      });
      tf.dispose([res.xBest, res.xBestAdv]);
    } finally {
      tf.dispose([idx, xs, ys]);
      targets?.dispose();
    }
    return robust.some((r) => r);
  };
  schedule(run);
  onProgress?.(totalIterations, totalIterations);
  return tf.tensor4d(result, [batch, h, w, c]);
}
