import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  BN_EPSILON,
  BatchNorm,
  Conv2d,
  Dense,
  InputNormalization,
  ParamBuilder,
  Rng,
  kaimingNormalFanOut,
  uniformFanIn,
} from '@mat/core';

beforeAll(() => tf.setBackend('cpu'));

function set(variable: tf.Variable, values: number[]): void {
  tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, 'float32')));
}

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('ParamBuilder', () => {
  it('rejects duplicate names and bad shapes, and refuses use before materialise', () => {
    const b = new ParamBuilder();
    const slot = b.scope('layer').param('kernel', [2, 2], kaimingNormalFanOut);
    expect(() => b.param('layer.kernel', [3], uniformFanIn(3))).toThrow(
      /duplicate parameter name layer\.kernel/,
    );
    expect(() => b.param('w', [2, 0], uniformFanIn(3))).toThrow(/w has invalid shape/);
    expect(() => slot.variable).toThrow(/layer\.kernel is used before it was materialised/);
  });

  it('seeds each weight from (seed, name): values do not depend on declaration order', () => {
    const make = (order: string[], seed: number) => {
      const b = new ParamBuilder();
      for (const name of order) b.param(name, [50], uniformFanIn(4));
      const { params } = b.materialise(seed);
      const out = Object.fromEntries(params.map((p) => [p.name, values(p.variable)]));
      params.forEach((p) => p.variable.dispose());
      return out;
    };
    const ab = make(['a', 'b'], 7);
    const ba = make(['b', 'a'], 7);
    expect(ba.a).toEqual(ab.a);
    expect(ab.a).not.toEqual(ab.b);
    expect(make(['a'], 8).a).not.toEqual(ab.a);
  });

  it('puts trainable weights in params and buffers in buffers; skipInit gives zeros', () => {
    const b = new ParamBuilder();
    new BatchNorm(b, 'bn', 3);
    const { params, buffers } = b.materialise(1, true);
    expect(params.map((p) => p.name)).toEqual(['bn.gamma', 'bn.beta']);
    expect(buffers.map((p) => p.name)).toEqual(['bn.runningMean', 'bn.runningVar']);
    expect(params.every((p) => p.variable.trainable)).toBe(true);
    expect(buffers.every((p) => !p.variable.trainable)).toBe(true);
    expect(values(params[0].variable)).toEqual([0, 0, 0]);
    [...params, ...buffers].forEach((p) => p.variable.dispose());
  });
});

describe('initialisers', () => {
  it('kaimingNormalFanOut has mean 0 and std sqrt(2 / (kh*kw*out))', () => {
    const shape = [3, 3, 16, 64];
    const v = kaimingNormalFanOut(shape, new Rng(3));
    const n = v.length;
    const mean = v.reduce((s, x) => s + x, 0) / n;
    const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
    expect(Math.abs(mean)).toBeLessThan(0.01 * std * 3);
    expect(std / Math.sqrt(2 / (3 * 3 * 64))).toBeCloseTo(1, 1);
  });

  it('uniformFanIn stays within ±1/sqrt(fanIn) with variance bound²/3', () => {
    const v = uniformFanIn(25)([4000], new Rng(4));
    expect(Math.max(...v)).toBeLessThanOrEqual(0.2);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-0.2);
    const variance = v.reduce((s, x) => s + x * x, 0) / v.length;
    expect(variance / (0.04 / 3)).toBeCloseTo(1, 1);
  });
});

describe('Conv2d', () => {
  it('pads like PyTorch (1 on every side) for a stride-2 3x3 conv on an even size', () => {
    const b = new ParamBuilder();
    const conv = new Conv2d(b, 'c', { inChannels: 1, outChannels: 1, kernelSize: 3, stride: 2 });
    const { params } = b.materialise(0);
    set(conv.kernel.variable, new Array(9).fill(1));
    const x = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => i + 1),
      [1, 4, 4, 1],
    );
    const y = conv.apply(x);
    // Windows centred on (0,0), (0,2), (2,0), (2,2) of the 4x4 grid 1..16, zero outside.
    expect(y.shape).toEqual([1, 2, 2, 1]);
    expect(values(y)).toEqual([1 + 2 + 5 + 6, 2 + 3 + 4 + 6 + 7 + 8, 5 + 6 + 9 + 10 + 13 + 14, 99]);
    tf.dispose([x, y, ...params.map((p) => p.variable)]);
  });

  it('adds its bias and rejects even kernel sizes', () => {
    const b = new ParamBuilder();
    const conv = new Conv2d(b, 'c', { inChannels: 1, outChannels: 2, kernelSize: 1, bias: true });
    expect(() => new Conv2d(b, 'd', { inChannels: 1, outChannels: 1, kernelSize: 2 })).toThrow(
      /kernel size must be odd/,
    );
    const { params } = b.materialise(0);
    set(conv.kernel.variable, [2, -1]);
    set((conv.bias as { variable: tf.Variable }).variable, [0.5, 1]);
    const x = tf.tensor4d([3], [1, 1, 1, 1]);
    const y = conv.apply(x);
    expect(values(y)).toEqual([6.5, -2]);
    tf.dispose([x, y, ...params.map((p) => p.variable)]);
  });
});

describe('Dense', () => {
  it('computes x·W + b with W [in, out]', () => {
    const b = new ParamBuilder();
    const dense = new Dense(b, 'fc', 2, 3);
    const { params } = b.materialise(0);
    set(dense.kernel.variable, [1, 2, 3, 4, 5, 6]);
    set(dense.bias.variable, [0.5, 0, -1]);
    const x = tf.tensor2d([[1, -1]]);
    const y = dense.apply(x);
    expect(values(y)).toEqual([1 - 4 + 0.5, 2 - 5, 3 - 6 - 1]);
    tf.dispose([x, y, ...params.map((p) => p.variable)]);
  });
});

describe('BatchNorm', () => {
  // x: [2, 1, 2, 2] → per channel n = 4 values.
  const xValues = [1, 10, 2, 20, 3, 40, 6, 50];
  const channel = (c: number) => xValues.filter((_, i) => i % 2 === c);
  const gamma = [2, 0.5];
  const beta = [0.1, -0.3];
  let bn: BatchNorm;
  let vars: tf.Variable[];
  let x: tf.Tensor4D;

  beforeEach(() => {
    const b = new ParamBuilder();
    bn = new BatchNorm(b, 'bn', 2);
    const { params, buffers } = b.materialise(0);
    vars = [...params, ...buffers].map((p) => p.variable);
    set(bn.gamma.variable, gamma);
    set(bn.beta.variable, beta);
    set(bn.runningMean.variable, [1, 2]);
    set(bn.runningVar.variable, [4, 9]);
    x = tf.tensor4d(xValues, [2, 1, 2, 2]);
  });

  afterEach(() => tf.dispose([x, ...vars]));

  function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
    expect(actual.length).toBe(expected.length);
    expected.forEach((e, i) => expect(Math.abs(actual[i] - e)).toBeLessThan(tol * Math.max(1, Math.abs(e))));
  }

  it('eval mode normalises with the running statistics and changes nothing', () => {
    const y = bn.apply(x, { training: false });
    const expected = xValues.map((v, i) => {
      const c = i % 2;
      return (gamma[c] * (v - [1, 2][c])) / Math.sqrt([4, 9][c] + BN_EPSILON) + beta[c];
    });
    expectClose(y.dataSync(), expected);
    expect(values(bn.runningMean.variable)).toEqual([1, 2]);
    expect(values(bn.runningVar.variable)).toEqual([4, 9]);
    y.dispose();
  });

  it('training mode normalises with the batch statistics (biased variance) and leaves the buffers alone', () => {
    const y = bn.apply(x, { training: true });
    const stats = [0, 1].map((c) => {
      const v = channel(c);
      const mean = v.reduce((s, a) => s + a, 0) / v.length;
      return { mean, variance: v.reduce((s, a) => s + (a - mean) ** 2, 0) / v.length };
    });
    const expected = xValues.map((v, i) => {
      const c = i % 2;
      return (gamma[c] * (v - stats[c].mean)) / Math.sqrt(stats[c].variance + BN_EPSILON) + beta[c];
    });
    expectClose(y.dataSync(), expected);
    expect(values(bn.runningMean.variable)).toEqual([1, 2]);
    expect(values(bn.runningVar.variable)).toEqual([4, 9]);
    y.dispose();
  });

  it('updateStats moves the buffers with momentum 0.1 and the unbiased variance, without leaking tensors', () => {
    const before = tf.memory().numTensors;
    const y = bn.apply(x, { training: true, updateStats: true });
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const expectedMean = [0, 1].map((c) => {
      const v = channel(c);
      return 0.9 * [1, 2][c] + (0.1 * v.reduce((s, a) => s + a, 0)) / v.length;
    });
    const expectedVar = [0, 1].map((c) => {
      const v = channel(c);
      const mean = v.reduce((s, a) => s + a, 0) / v.length;
      const unbiased = v.reduce((s, a) => s + (a - mean) ** 2, 0) / (v.length - 1);
      return 0.9 * [4, 9][c] + 0.1 * unbiased;
    });
    expectClose(bn.runningMean.variable.dataSync(), expectedMean);
    expectClose(bn.runningVar.variable.dataSync(), expectedVar);
  });

  it('refuses to update running statistics from one value per channel', () => {
    const one = tf.tensor4d([1, 2], [1, 1, 1, 2]);
    expect(() => bn.apply(one, { training: true, updateStats: true })).toThrow(
      /more than 1 value per channel/,
    );
    expect(values(bn.runningMean.variable)).toEqual([1, 2]);
    one.dispose();
  });

  it('training-mode gradient matches the analytic batch-norm backward pass', () => {
    // L = Σ w·y;  dL/dx = γ/√(σ²+ε) · (w − mean(w) − x̂·mean(w·x̂)) per channel (Ioffe & Szegedy 2015).
    const w = [0.3, -1, 2, 0.5, -0.7, 1.5, 1, -2];
    const wT = tf.tensor4d(w, [2, 1, 2, 2]);
    const grad = tf.grad((input: tf.Tensor) =>
      tf.sum(tf.mul(bn.apply(input as tf.Tensor4D, { training: true }), wT)),
    )(x);
    const expected = new Array<number>(xValues.length);
    for (const c of [0, 1]) {
      const idx = xValues.map((_, i) => i).filter((i) => i % 2 === c);
      const n = idx.length;
      const mean = idx.reduce((s, i) => s + xValues[i], 0) / n;
      const variance = idx.reduce((s, i) => s + (xValues[i] - mean) ** 2, 0) / n;
      const inv = 1 / Math.sqrt(variance + BN_EPSILON);
      const xhat = (i: number) => (xValues[i] - mean) * inv;
      const meanW = idx.reduce((s, i) => s + w[i], 0) / n;
      const meanWX = idx.reduce((s, i) => s + w[i] * xhat(i), 0) / n;
      for (const i of idx) expected[i] = gamma[c] * inv * (w[i] - meanW - xhat(i) * meanWX);
    }
    expectClose(grad.dataSync(), expected, 1e-4);
    tf.dispose([wT, grad]);
  });
});

describe('InputNormalization', () => {
  it('computes (x - mean) / std per channel and validates its options', () => {
    const norm = new InputNormalization({ mean: [0.5, 0.25], std: [0.5, 2] }, 2);
    const x = tf.tensor4d([1, 1, 0, 0.25], [1, 1, 2, 2]);
    const y = norm.apply(x);
    expect(values(y)).toEqual([1, 0.375, -1, 0]);
    tf.dispose([x, y]);
    norm.dispose();
    expect(() => new InputNormalization({ mean: [0], std: [1] }, 3)).toThrow(/3 values/);
    expect(() => new InputNormalization({ mean: [0, 0], std: [1, 0] }, 2)).toThrow(/std finite and > 0/);
  });
});
