import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../packages/core/src/rng';
import { describeNative, expectParity, randomTensor } from './helpers';

const OPS: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
  ['add', tf.add],
  ['sub', tf.sub],
  ['mul', tf.mul],
  ['div', tf.div],
  ['maximum', tf.maximum],
  ['minimum', tf.minimum],
  ['squaredDifference', tf.squaredDifference],
];

/** [a shape, b shape]: equal, scalar either side, bias row either side, and broadcasts left to cpu. */
const SHAPES: [number[], number[]][] = [
  [
    [2, 3, 4, 6],
    [2, 3, 4, 6],
  ],
  [[2, 3, 4, 6], []],
  [[], [5, 7]],
  [[1], [3, 300, 300]], // > the threading grain
  [[2, 3, 4, 6], [6]],
  [
    [1, 1, 6],
    [2, 3, 4, 6],
  ],
  [
    [2, 3, 4, 6],
    [2, 3, 4, 1],
  ],
  [
    [4, 1],
    [1, 5],
  ],
];

describeNative('native binary kernels match cpu for every op and broadcast', () => {
  for (const [name, op] of OPS)
    it(name, async () => {
      await expectParity(name, () => {
        const rng = new Rng(name.length);
        const out: Record<string, tf.Tensor> = {};
        SHAPES.forEach(([sa, sb], i) => {
          // Keep divisors away from 0 so relative errors stay meaningful.
          const a = randomTensor(rng, sa, 0.5, 2);
          const b = tf.mul(randomTensor(rng, sb, 0.5, 2), rng.uniform() < 0.5 ? -1 : 1);
          out[`${JSON.stringify(sa)} ${JSON.stringify(sb)} #${i}`] = op(a, b);
        });
        return out;
      });
    });

  it('maximum/minimum propagate NaN like Math.max/Math.min', async () => {
    await expectParity('nan', () => {
      const a = tf.tensor1d([NaN, 1, NaN, -1, 2]);
      const b = tf.tensor1d([1, NaN, NaN, -1, 3]);
      return { max: tf.maximum(a, b), min: tf.minimum(a, b), maxScalar: tf.maximum(a, tf.scalar(0)) };
    });
  });

  it('gradients through broadcast ops (sums over the broadcast axes)', async () => {
    await expectParity('grads', () => {
      const rng = new Rng(9);
      const x = randomTensor(rng, [3, 4, 5]);
      const bias = randomTensor(rng, [5]);
      const [dx, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
        tf.sum(tf.mul(tf.maximum(tf.sub(p, q), tf.mul(p, 0.5)), tf.div(p, tf.add(q, 3)))),
      )([x, bias]);
      return { dx, db };
    });
  });
});
