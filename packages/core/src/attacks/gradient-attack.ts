import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../models/model';
import type { Attack, Norm } from './attack';
import { attackObjective } from './attack-loss';
import type { NormGeometry } from './norm-geometry';
import type { ResolvedAttackOptions } from './options';

/** Standard deviation of TRADES' start, x' = x + 0.001·N(0, 1) (yaodongyu/TRADES, trades.py). */
export const TRADES_START_STD = 0.001;

/**
 * The recipe every gradient attack shares (FGSM is the one-step case):
 *
 *   x'₀ = Π(x + δ₀)                      δ₀ random (or 0)
 *   x'ₜ₊₁ = Π(x'ₜ + step(∇ₓ' L(f(x'ₜ)), x'ₜ))
 *
 * where Π projects onto the eps-ball ∩ [0, 1] and `step` is the norm's steepest-ascent step, both from
 * the NormGeometry. Gradients are taken w.r.t. the input only (`tf.grad`), so no model parameter
 * receives one and no variable is written; every step runs in its own `tf.tidy`.
 */
export class GradientAttack implements Attack {
  readonly norm: Norm;
  readonly eps: number;

  constructor(
    readonly name: string,
    private readonly geometry: NormGeometry,
    readonly options: Readonly<ResolvedAttackOptions>,
  ) {
    this.norm = geometry.norm;
    this.eps = options.eps;
  }

  attack(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor4D {
    checkInputs(this.name, model, x, y);
    const { loss, mode, restarts } = this.options;
    const labels = tf.tidy(() => tf.cast(y, 'int32') as tf.Tensor1D);
    const cleanLogits = loss === 'trades-kl' ? tf.tidy(() => model.forward(x, mode)) : undefined;
    let best: Candidate | undefined;
    try {
      for (let r = 0; r < restarts; r++) {
        const xr = this.run(model, x, labels, cleanLogits);
        if (restarts === 1) return xr;
        const scored = this.score(model, xr, labels, cleanLogits);
        const previous = best;
        best = previous ? keepWorse(previous, scored) : scored;
        if (previous) disposeCandidate(previous);
        if (best !== scored) disposeCandidate(scored);
      }
      const result = (best as Candidate).xAdv;
      (best as Candidate).loss.dispose();
      (best as Candidate).wrong.dispose();
      best = undefined;
      return result;
    } finally {
      if (best) disposeCandidate(best);
      labels.dispose();
      cleanLogits?.dispose();
    }
  }

  /** One run from a (random) start; returns x' owned by the caller. */
  private run(model: Model, x: tf.Tensor4D, labels: tf.Tensor1D, cleanLogits?: tf.Tensor2D): tf.Tensor4D {
    const { eps, steps, stepSize, loss, mode } = this.options;
    const objective = (xa: tf.Tensor): tf.Scalar =>
      tf.sum(attackObjective(loss, model.forward(xa as tf.Tensor4D, mode), labels, cleanLogits));
    const gradient = tf.grad(objective);
    let xAdv = this.start(x);
    for (let s = 0; s < steps; s++) {
      const next = tf.tidy(() => {
        const g = gradient(xAdv) as tf.Tensor4D;
        return this.geometry.project(tf.add(xAdv, this.geometry.ascentStep(g, xAdv, stepSize)), x, eps);
      });
      xAdv.dispose();
      xAdv = next;
    }
    return xAdv;
  }

  /** x'₀: x itself, a random point of the ball, or TRADES' x + 0.001·N(0, 1); always projected. */
  private start(x: tf.Tensor4D): tf.Tensor4D {
    const { eps, randomStart, loss, rng } = this.options;
    if (!randomStart || !rng) return tf.clone(x);
    const [batch, h, w, c] = x.shape;
    const dim = h * w * c;
    const delta =
      loss === 'trades-kl'
        ? rng.fillNormal(new Float32Array(batch * dim), 0, TRADES_START_STD)
        : this.geometry.randomStart(batch, dim, eps, rng);
    return tf.tidy(() => this.geometry.project(tf.add(x, tf.tensor4d(delta, x.shape)), x, eps));
  }

  private score(model: Model, xAdv: tf.Tensor4D, labels: tf.Tensor1D, cleanLogits?: tf.Tensor2D): Candidate {
    const { loss, mode } = this.options;
    return tf.tidy(() => {
      const logits = model.forward(xAdv, mode);
      return {
        xAdv,
        loss: attackObjective(loss, logits, labels, cleanLogits),
        wrong: tf.notEqual(tf.argMax(logits, 1), labels) as tf.Tensor1D,
      };
    });
  }
}

interface Candidate {
  xAdv: tf.Tensor4D;
  /** Attack objective per sample. */
  loss: tf.Tensor1D;
  /** Whether the model misclassifies the sample (bool). */
  wrong: tf.Tensor1D;
}

/**
 * Per sample, the stronger of two restarts: a misclassified one beats a correct one (the first
 * misclassified one is kept); between two correct ones the higher loss wins. Returns new tensors.
 */
function keepWorse(a: Candidate, b: Candidate): Candidate {
  return tf.tidy(() => {
    const bothCorrect = tf.logicalNot(tf.logicalOr(a.wrong, b.wrong));
    const takeB = tf.logicalOr(
      tf.logicalAnd(b.wrong, tf.logicalNot(a.wrong)),
      tf.logicalAnd(bothCorrect, tf.greater(b.loss, a.loss)),
    ) as tf.Tensor1D;
    return {
      xAdv: tf.where(tf.reshape(takeB, [-1, 1, 1, 1]), b.xAdv, a.xAdv),
      loss: tf.where(takeB, b.loss, a.loss),
      wrong: tf.logicalOr(a.wrong, b.wrong) as tf.Tensor1D,
    };
  });
}

function disposeCandidate(c: Candidate): void {
  tf.dispose([c.xAdv, c.loss, c.wrong]);
}

function checkInputs(name: string, model: Model, x: tf.Tensor4D, y: tf.Tensor1D): void {
  const [h, w, c] = model.inputShape;
  if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
    throw new Error(`${name}: x must be [batch, ${h}, ${w}, ${c}] for model ${model.arch}, got [${x.shape}]`);
  }
  if (y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw new Error(`${name}: y must be [${x.shape[0]}] labels, got [${y.shape}]`);
  }
}
