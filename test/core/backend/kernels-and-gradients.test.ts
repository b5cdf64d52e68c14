/** Hand-computed checks of the wasm kernels and gradients that MAT adds or fixes. */
import * as tf from '@tensorflow/tfjs-core';
import { registerTrainingGradients, registerWasmKernels, selectBackend } from '@mat/core';

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

  it('Conv2DBackpropFilter: stride 2, same padding, two channels in and out', async () => {
    // x: 1x3x3x2, filter 3x3, stride 2 'same' → output 2x2, pad 1 on every side.
    const xv = Array.from({ length: 18 }, (_, i) => i - 8);
    const dyv = [1, -1, 2, 0.5, -3, 1, 0.25, 2];
    const expected = new Array(3 * 3 * 2 * 2).fill(0);
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < 2; b++)
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++) {
            const y = a * 2 + i - 1;
            const xx = b * 2 + j - 1;
            if (y < 0 || y >= 3 || xx < 0 || xx >= 3) continue;
            for (let c = 0; c < 2; c++)
              for (let k = 0; k < 2; k++)
                expected[((i * 3 + j) * 2 + c) * 2 + k] +=
                  xv[(y * 3 + xx) * 2 + c] * dyv[(a * 2 + b) * 2 + k];
          }
    const x = tf.tensor4d(xv, [1, 3, 3, 2]);
    const dy = tf.tensor4d(dyv, [1, 2, 2, 2]);
    const dW = runFilterGrad(x, dy, [3, 3, 2, 2], 2, 'same');
    expect(await values(dW)).toEqual(expected);
    tf.dispose([x, dy, dW]);
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
});

describe('gradients added by MAT (cpu)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('registers idempotently', () => {
    expect(registerTrainingGradients()).toEqual([]);
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
