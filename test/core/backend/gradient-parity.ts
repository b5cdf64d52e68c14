/**
 * Cross-backend parity checks: run the same computation on a reference backend (cpu) and on the backend
 * under test (wasm), and require every named output to agree to a relative error.
 *
 * Relative error of `actual` vs `expected` = max_i |actual_i − expected_i| / max_i |expected_i|
 * (normalised by the largest reference entry, so entries that cancel to ~0 do not blow it up).
 *
 * A probe must create all of its tensors itself (and randomness only from its own seeded Rng): it runs once
 * per backend, after that backend was selected, so its tensors live on the backend being tested.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, selectBackend, type BackendRequest } from '@mat/core';
import { BATCH_NORM_RELU_KERNEL } from '../../../packages/core/src/models/layers/batch-norm';

export interface Readout {
  shape: number[];
  values: Float64Array;
}

/** Computes named tensors (forward values, gradients) on the current backend; the caller disposes them. */
export type Probe = () => Record<string, tf.Tensor> | Promise<Record<string, tf.Tensor>>;

export interface ParityOptions {
  /** Backends to compare; the first is the reference. Default ['cpu', 'wasm']. */
  backends?: BackendRequest[];
  /** Largest relative error allowed. Default 1e-4. */
  tol?: number;
}

export async function runProbe(backend: BackendRequest, probe: Probe): Promise<Record<string, Readout>> {
  const info = await selectBackend(backend);
  if (info.name !== backend) throw new Error(`asked for backend ${backend}, got ${info.name}`);
  const outputs = await probe();
  const readouts: Record<string, Readout> = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    readouts[name] = { shape: tensor.shape.slice(), values: Float64Array.from(await tensor.data()) };
    tensor.dispose();
  }
  return readouts;
}

export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= maxDiff)) maxDiff = diff; // also catches NaN
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  if (Number.isNaN(maxDiff)) return NaN;
  if (maxDiff === 0) return 0;
  return scale === 0 ? Infinity : maxDiff / scale;
}

/** Lists every output whose shape differs or whose relative error exceeds tol (empty when all match). */
export function compareReadouts(
  actual: Record<string, Readout>,
  expected: Record<string, Readout>,
  tol: number,
): string[] {
  const problems: string[] = [];
  for (const name of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    const a = actual[name];
    const e = expected[name];
    if (a == null || e == null) {
      problems.push(`${name}: missing on one backend`);
    } else if (!tf.util.arraysEqual(a.shape, e.shape)) {
      problems.push(`${name}: shape [${a.shape}] vs [${e.shape}]`);
    } else {
      const error = relativeError(a.values, e.values);
      if (!(error <= tol)) problems.push(`${name}: relative error ${error.toExponential(2)} > ${tol}`);
    }
  }
  return problems;
}

/** Runs the probe on every backend and expects all outputs to match the first backend's. */
export async function expectBackendsMatch(probe: Probe, options: ParityOptions = {}): Promise<void> {
  const [reference, ...others] = options.backends ?? ['cpu', 'wasm'];
  const tol = options.tol ?? 1e-4;
  const expected = await runProbe(reference, probe);
  for (const backend of others) {
    const problems = compareReadouts(await runProbe(backend, probe), expected, tol);
    expect(problems.map((p) => `${backend} vs ${reference}: ${p}`)).toEqual([]);
  }
}

/** Uniform random tensor from the Rng (never tf.random*, so every backend sees the same numbers). */
export function randomTensor(rng: Rng, shape: number[], low = -1, high = 1): tf.Tensor {
  return tf.tensor(rng.fillUniform(new Float32Array(tf.util.sizeFromShape(shape)), low, high), shape);
}

/** Integer tensor with entries uniform in [0, n). */
export function randomInts(rng: Rng, shape: number[], n: number): tf.Tensor {
  const values = Int32Array.from({ length: tf.util.sizeFromShape(shape) }, () => rng.int(n));
  return tf.tensor(values, shape, 'int32');
}

/** A differentiable function and the inputs to differentiate it at, built from a seeded Rng. */
export interface GradientCase {
  inputs: tf.Tensor[];
  f: (...inputs: tf.Tensor[]) => tf.Tensor;
  /** Non-differentiated tensors f closes over (labels, indices); disposed after the probe. */
  constants?: tf.Tensor[];
}

/**
 * Probe for f's value and its vector–Jacobian product with a random cotangent c (from the same Rng):
 * outputs `value` = f(inputs) and `grad<i>` = ∂ Σ(c ⊙ f(inputs)) / ∂ inputs[i]. A random c (rather than
 * the gradient of Σ f) makes every output entry count with a different weight, so e.g. softmax, whose
 * entries always sum to 1, still gets a non-trivial gradient.
 */
export function gradientProbe(build: (rng: Rng) => GradientCase, seed = 20211210): Probe {
  return () => {
    const rng = new Rng(seed);
    const { inputs, f, constants = [] } = build(rng);
    const value = tf.tidy(() => f(...inputs));
    const cotangent = randomTensor(rng, value.shape);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), cotangent)))(inputs);
    tf.dispose([...inputs, ...constants, cotangent]);
    return { value, ...Object.fromEntries(grads.map((g, i) => [`grad${i}`, g])) };
  };
}

/** Expects f's value and gradients on wasm to equal cpu's (relative error ≤ tol). */
export function expectGradientsMatch(build: (rng: Rng) => GradientCase, tol = 1e-4): Promise<void> {
  return expectBackendsMatch(gradientProbe(build), { tol });
}

/**
 * Runs fn on the given (already selected) backend while recording, for every Relu kernel call, which inputs
 * were positive. Two backends whose ReLU inputs differ in sign anywhere are on different sides of a kink
 * (a value within float32 rounding of 0), where their gradients may legitimately differ by far more than
 * any kernel error; comparisons should pick inputs that avoid that (see `countReluSignFlips`). The fused
 * batch norm + ReLU kernel of the native backend (which the models use instead of Relu there) is recorded
 * too, from its output (positive exactly where its ReLU input is), in call order with the Relu calls.
 */
export function recordReluSigns<T>(backendName: string, fn: () => T): { result: T; signs: Uint8Array[] } {
  const signs: Uint8Array[] = [];
  const wrapped: tf.KernelConfig[] = [];
  const record = (kernelName: string, read: 'input' | 'output') => {
    const original = tf.getKernel(kernelName, backendName) as tf.KernelConfig | undefined;
    if (original == null) return false;
    wrapped.push(original);
    tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({
      ...original,
      setupFunc: undefined,
      kernelFunc: (args) => {
        const backend = args.backend as tf.KernelBackend;
        const sign = (t: tf.TensorInfo) =>
          signs.push(Uint8Array.from(backend.readSync(t.dataId) as Float32Array, (v) => (v > 0 ? 1 : 0)));
        if (read === 'input') sign((args.inputs as { x: tf.TensorInfo }).x);
        const out = original.kernelFunc(args);
        if (read === 'output') sign(out as tf.TensorInfo);
        return out;
      },
    });
    return true;
  };
  if (!record(tf.Relu, 'input')) throw new Error(`no Relu kernel registered for backend ${backendName}`);
  record(BATCH_NORM_RELU_KERNEL, 'output');
  try {
    return { result: fn(), signs };
  } finally {
    for (const original of wrapped) {
      tf.unregisterKernel(original.kernelName, backendName);
      tf.registerKernel(original);
    }
  }
}

/** Number of ReLU inputs whose sign differs between two recordings of the same computation. */
export function countReluSignFlips(a: Uint8Array[], b: Uint8Array[]): number {
  if (a.length !== b.length) return Infinity;
  let flips = 0;
  a.forEach((signs, call) => {
    if (signs.length !== b[call].length) flips = Infinity;
    else for (let i = 0; i < signs.length; i++) if (signs[i] !== b[call][i]) flips++;
  });
  return flips;
}
