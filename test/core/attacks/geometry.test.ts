import * as tf from '@tensorflow/tfjs-core';
import { Fgsm, l1Geometry, PgdL1, PgdL2, Rng, slideKeepCount } from '@mat/core';
import { SoftmaxRegression } from '../helpers/tiny-models';

/**
 * Steps checked against the closed-form input gradient of softmax regression, computed in plain JS:
 * for z = W^T x + b and CE, ∂CE/∂x = W (softmax(z) − e_y).
 */
function linearGradient(model: SoftmaxRegression, x: Float32Array, y: number[]): number[][] {
  const W = model.params[0].variable.arraySync() as number[][];
  const b = model.params[1].variable.arraySync() as number[];
  const dim = W.length;
  const k = b.length;
  return y.map((label, s) => {
    const z = b.map((bj, j) => bj + W.reduce((acc, row, i) => acc + row[j] * x[s * dim + i], 0));
    const m = Math.max(...z);
    const e = z.map((zj) => Math.exp(zj - m));
    const sum = e.reduce((a, c) => a + c, 0);
    const r = e.map((ej, j) => ej / sum - (j === label ? 1 : 0));
    return W.map((row) => row.reduce((acc, wij, j) => acc + wij * r[j], 0)).slice(0, dim + k * 0);
  });
}

describe('steepest-ascent steps against the closed-form gradient', () => {
  const model = new SoftmaxRegression([4, 4, 1], 3, 9);
  const rng = new Rng(6);
  const xs = rng.fillUniform(new Float32Array(3 * 16), 0.3, 0.7);
  const labels = [0, 1, 2];
  const x = tf.tensor4d(xs, [3, 4, 4, 1]);
  const y = tf.tensor1d(labels, 'int32');
  const grads = linearGradient(model, xs, labels);
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y]);
  });

  it('FGSM l∞: x + eps·sign(∇)', () => {
    const adv = new Fgsm({ eps: 0.05 }).attack(model, x, y).dataSync();
    grads.flat().forEach((g, i) => expect(adv[i]).toBeCloseTo(xs[i] + 0.05 * Math.sign(g), 6));
  });

  it('PGD l2, one step inside the ball: x + α·∇/‖∇‖₂', () => {
    const adv = new PgdL2({ eps: 1, steps: 1, stepSize: 0.1, randomStart: false, rng })
      .attack(model, x, y)
      .dataSync();
    grads.forEach((g, s) => {
      const norm = Math.hypot(...g);
      g.forEach((gi, i) => expect(adv[s * 16 + i]).toBeCloseTo(xs[s * 16 + i] + (0.1 * gi) / norm, 6));
    });
  });

  it('PGD l1 (SLIDE), one step: α/k on the k largest |∇| coordinates, sign of ∇', () => {
    const q = 80; // keep 16 − ⌊0.8·16⌋ = 4 coordinates
    const k = slideKeepCount(16, q);
    expect(k).toBe(4);
    const adv = new PgdL1({ eps: 5, steps: 1, stepSize: 0.2, randomStart: false, rng, sparsityQuantile: q })
      .attack(model, x, y)
      .dataSync();
    grads.forEach((g, s) => {
      const top = g
        .map((gi, i) => [Math.abs(gi), i])
        .sort((a, b) => b[0] - a[0])
        .slice(0, k)
        .map(([, i]) => i);
      g.forEach((gi, i) => {
        const expected = xs[s * 16 + i] + (top.includes(i) ? (0.2 / k) * Math.sign(gi) : 0);
        expect(adv[s * 16 + i]).toBeCloseTo(expected, 6);
      });
    });
  });
});

describe('SLIDE step details', () => {
  it('skips coordinates where the step would leave the box and has l1 norm α', () => {
    // One sample of 10 values; the two largest |g| sit on pixels that are already at the box edge and
    // point outwards, so they must be skipped in favour of the next ones.
    const g = tf.tensor4d([-9, 8, 1, 2, 3, 4, 5, 6, 0.5, 0.1], [1, 1, 10, 1]);
    const xAdv = tf.tensor4d([0, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [1, 1, 10, 1]);
    const step = l1Geometry(80).ascentStep(g, xAdv, 1).dataSync(); // keep 10 − 8 = 2 coordinates
    expect(Array.from(step, (v) => v + 0)).toEqual([0, 0, 0, 0, 0, 0, 0.5, 0.5, 0, 0]);
    tf.dispose([g, xAdv]);
  });

  it('changes few coordinates per step with the default 99th percentile', () => {
    const model = new SoftmaxRegression([28, 28, 1], 10, 3);
    const rng = new Rng(7);
    const x = tf.tensor4d(rng.fillUniform(new Float32Array(2 * 784), 0.2, 0.8), [2, 28, 28, 1]);
    const y = tf.tensor1d([3, 7], 'int32');
    const adv = new PgdL1({ eps: 10, steps: 3, stepSize: 1, randomStart: false, rng }).attack(model, x, y);
    const changed = tf.tidy(() => tf.sum(tf.cast(tf.notEqual(adv, x), 'float32'), [1, 2, 3]).dataSync());
    // 3 steps × (784 − ⌊0.99·784⌋ = 8) coordinates at most.
    for (const c of changed) {
      expect(c).toBeGreaterThan(0);
      expect(c).toBeLessThanOrEqual(3 * 8);
    }
    tf.dispose([x, y, adv]);
    model.dispose();
  });
});
