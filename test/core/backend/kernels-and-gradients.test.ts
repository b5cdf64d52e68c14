/** Hand-computed checks of the wasm kernels and gradients that MAT adds or fixes. */
import * as tf from '@tensorflow/tfjs-core';
import {
  Rng,
  registerCpuKernels,
  registerTrainingGradients,
  registerWasmKernels,
  selectBackend,
} from '@mat/core';
import { relativeError } from './gradient-parity';

const values = async (t: tf.Tensor): Promise<number[]> => Array.from(await t.data());

describe('wasm kernels added by MAT', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('registers idempotently', () => {
    expect(registerWasmKernels()).toEqual([]);
  });

  it('Conv2DBackpropFilter: valid 2x2 filter on a 3x3 image', async () => {
    // dW[i, j] = Σ_{a,b} x[a+i, b+j] · dy[a, b] with x = 1..9 (row-major), dy = [[1, 2], [3, 4]].
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const dW = runFilterGrad(x, dy, [2, 2, 1, 1], 1, 'valid');
    expect(tf.getBackend()).toBe('wasm');
    expect(await values(dW)).toEqual([37, 47, 67, 77]);
    tf.dispose([x, dy, dW]);
  });

  it('Conv2DBackpropInput (an XNNPACK conv of the flipped filter): valid 2x2 filter on a 3x3 image', async () => {
    // dx[y, x] = Σ_{a,b} dy[a, b] · W[y − a, x − b], the full convolution of dy = W = [[1, 2], [3, 4]].
    const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const w = tf.tensor4d([1, 2, 3, 4], [2, 2, 1, 1]);
    const dx = tf.conv2dTranspose(dy, w, [1, 3, 3, 1], 1, 'valid');
    expect(tf.getBackend()).toBe('wasm');
    expect(await values(dx)).toEqual([1, 4, 4, 6, 20, 16, 9, 24, 16]);
    // Stride 2: dy spreads to every other pixel, dx[y, x] = Σ dy[a, b] · W[y − 2a, x − 2b].
    const dx2 = tf.conv2dTranspose(dy, w, [1, 4, 4, 1], 2, 'valid');
    expect(await values(dx2)).toEqual([1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16]);
    tf.dispose([dy, w, dx, dx2]);
  });

  it('UnsortedSegmentSum sums rows per segment and drops out-of-range ids', async () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
    const ids = tf.tensor1d([1, 0, 1, -1], 'int32');
    const out = tf.unsortedSegmentSum(x, ids, 3);
    expect(out.shape).toEqual([3, 2]);
    expect(await values(out)).toEqual([3, 4, 6, 8, 0, 0]);
    tf.dispose([x, ids, out]);
  });

  it('MaxPoolGrad sends the gradient of an all-negative window to its maximum', async () => {
    // The built-in wasm kernel dropped it (its running max started at the smallest positive float).
    const x = tf.tensor4d([-4, -3, -2, -1, -0.5, -6, -7, -8], [2, 2, 2, 1]);
    const dx = tf.grad((input: tf.Tensor) =>
      tf.sum(tf.mul(tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid'), tf.tensor1d([5]))),
    )(x);
    expect(await values(dx)).toEqual([0, 0, 0, 5, 5, 0, 0, 0]);
    tf.dispose([x, dx]);
  });

  it('Sign is ±1 for every non-zero magnitude, subnormals included, and 0 for ±0 and NaN', async () => {
    // The built-in wasm kernel returned 0 for every |x| < FLT_EPSILON.
    const x = tf.tensor1d([1e-30, -1e-30, 1e-8, -1e-8, 1e-40, -1.4e-45, 0, -0, NaN, -Infinity, 2]);
    const s = tf.sign(x);
    expect(tf.getBackend()).toBe('wasm');
    expect(await values(s)).toEqual([1, -1, 1, -1, 1, -1, 0, 0, 0, -1, 1]);
    // Sign's gradient is zero (and defined): replacing the kernel must not have lost it.
    const finite = tf.tensor1d([1e-30, -1e-40, 0, 2]);
    const g = tf.grad((input: tf.Tensor) => tf.sum(tf.sign(input)))(finite);
    expect(await values(g)).toEqual([0, 0, 0, 0]);
    tf.dispose([x, s, finite, g]);
  });
});

describe.each(['cpu', 'wasm'] as const)('Conv2DBackpropFilter on %s (MAT replaces or adds it)', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  // [filter, stride, padding, input size, in channels, out channels]
  const configs = [
    [3, 1, 'same', 5, 2, 3],
    [3, 2, 'same', 6, 2, 2],
    [3, 2, 'same', 7, 3, 2],
    [3, 1, 'valid', 6, 2, 2],
    [3, 2, 'valid', 8, 1, 3],
    [1, 2, 'valid', 5, 3, 4],
    [2, 2, 'same', 5, 2, 2],
  ] as const;
  it.each(configs)(
    'filter %i, stride %i, %s padding, input %i, channels %i → %i',
    async (k, stride, pad, size, cin, cout) => {
      const rng = new Rng(k * 100 + stride * 10 + size);
      const out = pad === 'same' ? Math.ceil(size / stride) : Math.floor((size - k) / stride) + 1;
      const xv = Array.from({ length: 2 * size * size * cin }, () => rng.uniform() * 2 - 1);
      const dyv = Array.from({ length: 2 * out * out * cout }, () => rng.uniform() * 2 - 1);
      const padTop = pad === 'same' ? Math.floor(Math.max((out - 1) * stride + k - size, 0) / 2) : 0;
      const expected = referenceFilterGrad(xv, dyv, { batch: 2, size, cin, out, cout, k, stride, padTop });
      const x = tf.tensor4d(xv, [2, size, size, cin]);
      const dy = tf.tensor4d(dyv, [2, out, out, cout]);
      const dW = runFilterGrad(x, dy, [k, k, cin, cout], stride, pad);
      expect(dW.shape).toEqual([k, k, cin, cout]);
      expect(relativeError(await dW.data(), expected)).toBeLessThan(1e-5);
      tf.dispose([x, dy, dW]);
    },
  );
});

describe('gradients added by MAT (cpu)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('registers idempotently', () => {
    expect(registerTrainingGradients()).toEqual([]);
    expect(registerCpuKernels()).toEqual([]);
  });

  it('TopK scatters dy back to the selected positions', async () => {
    const x = tf.tensor2d([3, 1, 2, 0, 5, 4], [2, 3]);
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.topk(input, 2).values, tf.tensor1d([10, 20]))))(
      x,
    );
    expect(await values(dx)).toEqual([10, 0, 20, 0, 10, 20]);
    tf.dispose([x, dx]);
  });

  it('comparisons have a zero gradient, so where(greater(x, 0), …) is differentiable', async () => {
    const x = tf.tensor1d([-2, 3]);
    const dx = tf.grad((input: tf.Tensor) =>
      tf.sum(tf.where(tf.greater(input, 0), tf.square(input), tf.neg(input))),
    )(x);
    expect(await values(dx)).toEqual([-1, 6]);
    tf.dispose([x, dx]);
  });

  it('maximum and minimum reduce the gradient of a broadcast input', async () => {
    const a = tf.tensor2d([1, 5, 3, 2], [2, 2]);
    const floor = tf.tensor1d([2, 4]);
    const [da, dFloor] = tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.sum(tf.maximum(x, f)))([a, floor]);
    // a ≥ floor at (0,1) and (1,0) only; the floor wins at (0,0) [col 0] and (1,1) [col 1].
    expect(await values(da)).toEqual([0, 1, 1, 0]);
    expect(await values(dFloor)).toEqual([1, 1]);
    const [dMinA] = tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.sum(tf.minimum(x, f)))([a, floor]);
    expect(await values(dMinA)).toEqual([1, 0, 0, 1]);
    tf.dispose([a, floor, da, dFloor, dMinA]);
  });
});

function runFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number,
  pad: 'same' | 'valid',
): tf.Tensor4D {
  return tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
    strides,
    pad,
    dataFormat: 'NHWC',
    filterShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** dW[i, j, c, k] = Σ_{n, a, b} x[n, a·s + i − pad, b·s + j − pad, c] · dy[n, a, b, k], in float64 (square images). */
function referenceFilterGrad(
  x: number[],
  dy: number[],
  d: {
    batch: number;
    size: number;
    cin: number;
    out: number;
    cout: number;
    k: number;
    stride: number;
    padTop: number;
  },
): Float64Array {
  const dW = new Float64Array(d.k * d.k * d.cin * d.cout);
  for (let n = 0; n < d.batch; n++)
    for (let a = 0; a < d.out; a++)
      for (let b = 0; b < d.out; b++)
        for (let i = 0; i < d.k; i++)
          for (let j = 0; j < d.k; j++) {
            const y = a * d.stride + i - d.padTop;
            const xx = b * d.stride + j - d.padTop;
            if (y < 0 || y >= d.size || xx < 0 || xx >= d.size) continue;
            for (let c = 0; c < d.cin; c++)
              for (let o = 0; o < d.cout; o++) {
                dW[((i * d.k + j) * d.cin + c) * d.cout + o] +=
                  x[((n * d.size + y) * d.size + xx) * d.cin + c] *
                  dy[((n * d.out + a) * d.out + b) * d.cout + o];
              }
          }
  return dW;
}
