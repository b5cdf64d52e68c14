import * as tf from '@tensorflow/tfjs-core';
import {
  APGD_MOMENTUM,
  apgdCheckpointParams,
  apgdRun,
  createAttack,
  crossEntropyPerSample,
  Rng,
  type AttackSpec,
  type ForwardMode,
  type Model,
  type Norm,
} from '@mat/core';
import { randomBatch, SoftmaxRegression, TinyConvNet } from '../helpers/tiny-models';
import { correct } from './attack-test-utils';

/** Labels = the model's own clean predictions, so clean accuracy is 100 %. */
function ownLabels(model: Model, x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => tf.cast(tf.argMax(model.forward(x, { training: false }), 1), 'int32') as tf.Tensor1D);
}

function accuracy(model: Model, spec: AttackSpec, x: tf.Tensor4D, y: tf.Tensor1D, seed = 1): number {
  const adv = createAttack(spec, new Rng(seed)).attack(model, x, y);
  const ok = correct(model, adv, y);
  adv.dispose();
  return ok.filter(Boolean).length / ok.length;
}

/**
 * A model that hides its gradients: it quantises its input to 4 levels before a linear layer. Round has a
 * zero gradient, so every gradient attack sees ∇ = 0 and stays where it started, while the model is as
 * vulnerable as the linear layer under it.
 */
class QuantisedInputModel implements Model {
  readonly arch = 'quantised-input';
  constructor(private readonly inner: Model) {}
  get inputShape() {
    return this.inner.inputShape;
  }
  get numClasses() {
    return this.inner.numClasses;
  }
  get params() {
    return this.inner.params;
  }
  get buffers() {
    return this.inner.buffers;
  }
  forward(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor2D {
    return tf.tidy(() => this.inner.forward(tf.div(tf.round(tf.mul(x, 4)), 4) as tf.Tensor4D, mode));
  }
  dispose(): void {
    this.inner.dispose();
  }
}

describe('evaluation attack strength', () => {
  const model = new TinyConvNet([8, 8, 1], 4, 4, 3);
  const { x } = randomBatch([24, 8, 8, 1], 4, 9);
  const y = ownLabels(model, x);
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y]);
  });

  const LARGE: Record<Norm, number> = { linf: 0.5, l2: 6, l1: 40 };
  const ATTACKS: AttackSpec['name'][] = ['pgd', 'cw', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'square'];
  const cases = ATTACKS.flatMap((name) =>
    (['linf', 'l2', 'l1'] as Norm[])
      .filter((norm) => !(name === 'square' && norm === 'l1'))
      .map((norm) => ({ name, norm })),
  );
  it.each(cases)('$name $norm: ~0 % accuracy at a large eps on an undefended model', ({ name, norm }) => {
    const steps = name === 'square' ? 200 : 20;
    const extra = name === 'apgd-t' ? { targetClasses: 3 } : {};
    expect(accuracy(model, { name, norm, eps: LARGE[norm], steps, ...extra }, x, y)).toBeLessThanOrEqual(
      0.05,
    );
  });

  it('APGD and CW are at least as strong as FGSM at a moderate eps', () => {
    const eps = 0.02;
    const fgsm = accuracy(model, { name: 'fgsm', norm: 'linf', eps }, x, y);
    const apgdCe = accuracy(model, { name: 'apgd-ce', norm: 'linf', eps, steps: 30 }, x, y);
    const apgdT = accuracy(model, { name: 'apgd-t', norm: 'linf', eps, steps: 30, targetClasses: 3 }, x, y);
    const cw = accuracy(model, { name: 'cw', norm: 'linf', eps, steps: 30 }, x, y);
    expect(fgsm).toBeGreaterThan(0.2); // a regime where the attacks can differ
    expect(fgsm).toBeLessThan(0.9);
    expect(apgdCe).toBeLessThanOrEqual(fgsm);
    expect(apgdT).toBeLessThanOrEqual(fgsm);
    expect(cw).toBeLessThanOrEqual(fgsm);
  });

  it('a gradient-free attack breaks a model that masks its gradients; PGD and APGD do not', () => {
    const masked = new QuantisedInputModel(new SoftmaxRegression([8, 8, 1], 4, 5));
    const { x: xm } = randomBatch([32, 8, 8, 1], 4, 17);
    const ym = ownLabels(masked, xm);
    // The gradient really is zero everywhere.
    const g = tf.grad((xi: tf.Tensor) =>
      tf.sum(crossEntropyPerSample(masked.forward(xi as tf.Tensor4D, { training: false }), ym)),
    )(xm);
    expect(tf.max(tf.abs(g)).dataSync()[0]).toBe(0);
    const eps = 0.3;
    const pgd = accuracy(masked, { name: 'pgd', norm: 'linf', eps, steps: 20 }, xm, ym);
    const apgd = accuracy(masked, { name: 'apgd-ce', norm: 'linf', eps, steps: 20 }, xm, ym);
    const square = accuracy(masked, { name: 'square', norm: 'linf', eps, steps: 300 }, xm, ym);
    const squareL2 = accuracy(masked, { name: 'square', norm: 'l2', eps: 3, steps: 300 }, xm, ym);
    expect(pgd).toBeGreaterThanOrEqual(0.5);
    expect(apgd).toBeGreaterThanOrEqual(0.5);
    expect(square).toBeLessThanOrEqual(0.1);
    expect(squareL2).toBeLessThanOrEqual(0.25);
    tf.dispose([g, xm, ym]);
    masked.dispose();
  });
});

describe('APGD mechanics (Croce & Hein 2020, Sec. 3.2)', () => {
  it('checkpoints follow p₀ = 0, p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), w_j = ⌈p_j·N⌉', () => {
    const steps = 100;
    const paper: number[] = [];
    let [prev, p] = [0, 0.22];
    while (Math.ceil(p * steps) <= steps) {
      paper.push(Math.ceil(p * steps - 1e-9));
      [prev, p] = [p, p + Math.max(p - prev - 0.03, 0.06)];
    }
    expect(paper.slice(0, 4)).toEqual([22, 41, 57, 70]);
    expect(apgdCheckpointParams(steps)).toEqual({ first: 22, min: 6, decrease: 3 });
    const model = new SoftmaxRegression([2, 2, 1], 3, 4);
    const { x, y } = randomBatch([3, 2, 2, 1], 3, 2);
    const seen: number[] = [];
    const res = apgdRun(model, x, y, (logits) => crossEntropyPerSample(logits, y), {
      norm: 'linf',
      eps: 0.05,
      steps,
      rho: 0.75,
      mode: { training: false },
      start: 'clean',
      onCheckpoint: (i) => seen.push(i + 1),
    });
    expect(seen).toEqual(paper);
    tf.dispose([res.xBest, res.xBestAdv, x, y]);
    model.dispose();
  });

  it('on a linear model, stuck at the vertex x + eps·sign(w), every checkpoint halves the step size', () => {
    // CE of a linear 2-class model is maximised at the vertex; from x the first step (size 2·eps) reaches
    // it and every later step stays there: the loss never increases, so condition (1) holds every time.
    const model = new SoftmaxRegression([2, 2, 1], 2, 8);
    const x = tf.tensor4d([0.5, 0.5, 0.5, 0.5], [1, 2, 2, 1]);
    const y = ownLabels(model, x);
    const sizes: number[] = [];
    const eps = 0.1;
    const res = apgdRun(model, x, y, (logits) => crossEntropyPerSample(logits, y), {
      norm: 'linf',
      eps,
      steps: 20,
      rho: 0.75,
      mode: { training: false },
      start: 'clean',
      onCheckpoint: (_i, s) => sizes.push(s[0]),
    });
    expect(sizes.length).toBeGreaterThan(3);
    sizes.forEach((s, j) => expect(s).toBeCloseTo((2 * eps) / 2 ** (j + 1), 7));
    // The best point is the vertex x + eps·sign(∇) with ∇ = w_other − w_y (per pixel).
    const w = model.params[0].variable.arraySync() as number[][];
    const label = y.dataSync()[0];
    const best = res.xBest.dataSync();
    w.forEach((row, i) => expect(best[i]).toBeCloseTo(0.5 + eps * Math.sign(row[1 - label] - row[label]), 6));
    expect(APGD_MOMENTUM).toBe(0.75);
    tf.dispose([res.xBest, res.xBestAdv, x, y]);
    model.dispose();
  });
});
