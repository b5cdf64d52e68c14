/**
 * Parity helpers for the native backend: run one probe on the cpu backend (the reference) and on 'native'
 * with identical inputs, and compare every named output.
 *
 * Relative error of actual vs expected = max_i |actual_i − expected_i| / max_i |expected_i| (normalised by
 * the largest reference entry, so entries that cancel to ~0 do not blow it up).
 */
import '@tensorflow/tfjs'; // registers the standard gradients on tfjs-core (its CommonJS bundle has none)
import * as tf from '@tensorflow/tfjs-core';
import { registerNativeBackend } from '@mat/native';
import { Rng } from '../../packages/core/src/rng';

/**
 * Registers the native backend. A missing addon fails these suites (npm install builds it with g++, which
 * the test command installs): @mat/native falls back to wasm/cpu at run time by design, but its tests must
 * not pass without it.
 */
function requireNative(): void {
  if (!registerNativeBackend())
    throw new Error('@mat/native addon is not built (npm install builds it; it needs g++ and make)');
}

/** describe() for native parity suites: registers the backend first. */
export function describeNative(name: string, body: () => void): void {
  describe(name, () => {
    beforeAll(requireNative);
    body();
  });
}

/** Uniform values in [lo, hi) from a seeded RNG, so every backend sees the same numbers. */
export function randomValues(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.uniform();
  return v;
}

export function randomTensor(rng: Rng, shape: number[], lo = -1, hi = 1): tf.Tensor {
  return tf.tensor(
    randomValues(
      rng,
      shape.reduce((a, b) => a * b, 1),
      lo,
      hi,
    ),
    shape,
  );
}

/** As above; NaN on both sides matches, NaN on one side fails. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    if (Number.isNaN(expected[i]) && Number.isNaN(actual[i])) continue; // NaN where cpu has NaN is a match
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= maxDiff)) maxDiff = diff; // a NaN only one side has propagates
    if (Number.isFinite(expected[i])) scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? maxDiff : maxDiff / scale;
}

export interface Readout {
  shape: number[];
  values: Float32Array;
}

/** Runs probe on a backend inside tidy; the probe must build all its tensors itself (from seeded data). */
export async function runOn(
  backend: string,
  probe: () => Record<string, tf.Tensor>,
): Promise<Record<string, Readout>> {
  await tf.setBackend(backend);
  const out: Record<string, Readout> = {};
  tf.tidy(() => {
    for (const [name, t] of Object.entries(probe()))
      out[name] = { shape: t.shape.slice(), values: t.dataSync().slice() as Float32Array };
  });
  return out;
}

/**
 * Asserts every output of probe on 'native' matches 'cpu' (same shape, relative error <= tol) and returns
 * the errors by name. `label` names the case in failure messages.
 */
export async function expectParity(
  label: string,
  probe: () => Record<string, tf.Tensor>,
  tol = 1e-4,
): Promise<Record<string, number>> {
  const expected = await runOn('cpu', probe);
  const actual = await runOn('native', probe);
  const errors: Record<string, number> = {};
  for (const [name, ref] of Object.entries(expected)) {
    const got = actual[name];
    expect({ case: label, output: name, shape: got.shape }).toEqual({
      case: label,
      output: name,
      shape: ref.shape,
    });
    errors[name] = relativeError(got.values, ref.values);
    if (!(errors[name] <= tol)) throw new Error(`${label}: ${name} differs, relative error ${errors[name]}`);
    // A probe whose output is all zeros would compare nothing.
    expect(ref.values.some((v) => v !== 0)).toBe(true);
  }
  return errors;
}

/** y = conv(x, w) and the gradients of sum(y * r) for x and w (r random, so every output position matters). */
export function convGradients(
  rng: Rng,
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  conv: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D,
): Record<'y' | 'dx' | 'dw', tf.Tensor> {
  const y = conv(x, w);
  const r = randomTensor(rng, y.shape);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), r)),
  )([x, w]);
  return { y, dx, dw };
}
