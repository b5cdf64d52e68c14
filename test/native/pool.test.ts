import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../packages/core/src/rng';
import { describeNative, expectParity, randomTensor } from './helpers';

interface PoolCase {
  shape: [number, number, number, number];
  f: number;
  stride: number;
  pad: 'same' | 'valid';
}

const CASES: PoolCase[] = [
  { shape: [3, 8, 8, 5], f: 2, stride: 2, pad: 'valid' }, // the fmnist-cnn pool: windows tile the input
  { shape: [1, 7, 9, 3], f: 2, stride: 2, pad: 'same' }, // odd sizes: clipped border windows
  { shape: [3, 7, 7, 13], f: 3, stride: 2, pad: 'same' }, // overlapping windows
  { shape: [2, 6, 5, 4], f: 3, stride: 1, pad: 'valid' },
  { shape: [2, 4, 4, 17], f: 4, stride: 4, pad: 'valid' }, // global 4x4 average pool of a ResNet head
];

const label = (c: PoolCase) => `${c.shape.join('x')} f${c.f} s${c.stride} ${c.pad}`;

function poolProbe(c: PoolCase, kind: 'max' | 'avg', seed: number, relu: boolean) {
  return () => {
    const rng = new Rng(seed);
    // After a ReLU many window entries tie at 0: the gradient must go to the same (first) one as on cpu.
    const raw = randomTensor(rng, c.shape) as tf.Tensor4D;
    const x = relu ? tf.relu(raw) : raw;
    const pool = (t: tf.Tensor4D) => (kind === 'max' ? tf.maxPool : tf.avgPool)(t, c.f, c.stride, c.pad);
    const y = pool(x);
    const r = randomTensor(rng, y.shape);
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pool(t as tf.Tensor4D), r)))(x);
    return { y, dx };
  };
}

describeNative('native MaxPool/MaxPoolGrad and AvgPool/AvgPoolGrad match cpu', () => {
  CASES.forEach((c, i) => {
    it(`max ${label(c)}`, () => expectParity(`max ${label(c)}`, poolProbe(c, 'max', 20 + i, false)));
    it(`max after relu (ties at 0) ${label(c)}`, () =>
      expectParity(`max relu ${label(c)}`, poolProbe(c, 'max', 40 + i, true)));
    it(`avg ${label(c)}`, () => expectParity(`avg ${label(c)}`, poolProbe(c, 'avg', 60 + i, false)));
  });

  it('ties inside a window route the gradient to the first maximum in scan order', async () => {
    await tf.setBackend('native');
    // One 2x2 window holding [1, 3; 3, 3]: the first 3 (row 0, col 1) gets all of dy.
    const x = tf.tensor4d([1, 3, 3, 3], [1, 2, 2, 1]);
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), 5)))(x);
    expect(Array.from(dx.dataSync())).toEqual([0, 5, 0, 0]);
    tf.dispose([x, dx]);
  });
});
