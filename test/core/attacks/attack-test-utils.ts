import * as tf from '@tensorflow/tfjs-core';
import { snapshotParams } from '../helpers/tiny-models';
import { createAttack, crossEntropyPerSample, Rng, type AttackSpec, type Model, type Norm } from '@mat/core';

/** Per-sample ‖a − b‖_p in float64, from the float32 tensors' values. */
export function perSampleNorms(a: tf.Tensor4D, b: tf.Tensor4D, norm: Norm): number[] {
  const [batch] = a.shape;
  const dim = a.size / batch;
  const av = a.dataSync();
  const bv = b.dataSync();
  const out: number[] = [];
  for (let s = 0; s < batch; s++) {
    let acc = 0;
    for (let i = s * dim; i < (s + 1) * dim; i++) {
      const d = Math.abs(av[i] - bv[i]);
      if (norm === 'linf') acc = Math.max(acc, d);
      else if (norm === 'l2') acc += d * d;
      else acc += d;
    }
    out.push(norm === 'l2' ? Math.sqrt(acc) : acc);
  }
  return out;
}

/** Per-sample cross-entropy of the model (eval mode) at x. */
export function perSampleLoss(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): number[] {
  return tf.tidy(() =>
    Array.from(crossEntropyPerSample(model.forward(x, { training: false }), y).dataSync()),
  );
}

/** Per-sample correctness of the model (eval mode) at x. */
export function correct(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): boolean[] {
  return tf.tidy(() => {
    const pred = tf.argMax(model.forward(x, { training: false }), 1).dataSync();
    const labels = y.dataSync();
    return Array.from(pred, (p, i) => p === labels[i]);
  });
}

export const mean = (v: number[]): number => v.reduce((s, a) => s + a, 0) / v.length;

/** Radii used by the tests, per norm, for 8×8×1 inputs. */
export const TEST_EPS: Record<Norm, number> = { linf: 0.1, l2: 0.5, l1: 2 };

/**
 * The contract every attack keeps, run on x: x' stays in the eps-ball (float32 slack) and in [0, 1], keeps
 * x's shape, moved some sample (not a no-op), changed no weight and left exactly one new tensor (x') behind.
 * Returns x' for further checks; the caller disposes it.
 */
export function expectAttackContract(
  spec: AttackSpec,
  model: Model,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  opts: { onProgress?: (done: number, total: number) => void } = {},
): tf.Tensor4D {
  const weights = snapshotParams(model);
  const tensorsBefore = tf.memory().numTensors;
  const adv = createAttack(spec, new Rng(3), opts).attack(model, x, y);
  expect(tf.memory().numTensors).toBe(tensorsBefore + 1);
  expect(adv.shape).toEqual(x.shape);
  const values = adv.dataSync();
  expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...values)).toBeLessThanOrEqual(1);
  const norms = perSampleNorms(adv, x, spec.norm);
  for (const n of norms) expect(n).toBeLessThanOrEqual(spec.eps * (1 + 1e-6) + 1e-6);
  expect(Math.max(...norms)).toBeGreaterThan(0);
  expect(snapshotParams(model)).toEqual(weights);
  return adv;
}
