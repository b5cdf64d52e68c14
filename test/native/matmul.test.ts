import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../packages/core/src/rng';
import { describeNative, expectParity, randomTensor } from './helpers';

/** [M, K, N]: tiny, odd, and larger than one micro-tile / depth slice (K > 256) in each direction. */
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [5, 7, 3],
  [13, 40, 33],
  [37, 300, 17],
  [130, 9, 65],
];

describeNative('native BatchMatMul matches cpu (forward and gradients)', () => {
  for (const [M, K, N] of SIZES)
    for (const ta of [false, true])
      for (const tb of [false, true]) {
        const name = `${M}x${K}x${N} transposeA=${ta} transposeB=${tb}`;
        it(name, async () => {
          await expectParity(name, () => {
            const rng = new Rng(M * 1000 + K * 10 + N);
            const a = randomTensor(rng, ta ? [K, M] : [M, K]) as tf.Tensor2D;
            const b = randomTensor(rng, tb ? [N, K] : [K, N]) as tf.Tensor2D;
            const y = tf.matMul(a, b, ta, tb);
            const r = randomTensor(rng, y.shape);
            const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
              tf.sum(tf.mul(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D, ta, tb), r)),
            )([a, b]);
            return { y, da, db };
          });
        });
      }

  it('batched, with a broadcast batch dimension', async () => {
    await expectParity('batched', () => {
      const rng = new Rng(5);
      const a = randomTensor(rng, [3, 4, 6]) as tf.Tensor3D;
      const b = randomTensor(rng, [3, 6, 5]) as tf.Tensor3D;
      const b1 = randomTensor(rng, [1, 5, 6]) as tf.Tensor3D;
      return { same: tf.matMul(a, b), broadcast: tf.matMul(a, b1, false, true) };
    });
  });
});

describeNative('native _FusedMatMul matches cpu', () => {
  it.each(['linear', 'relu'] as const)('bias + %s', async (activation) => {
    await expectParity(`fused ${activation}`, () => {
      const rng = new Rng(3);
      const a = randomTensor(rng, [9, 20]) as tf.Tensor2D;
      const b = randomTensor(rng, [20, 11]) as tf.Tensor2D;
      const bias = randomTensor(rng, [11]);
      return {
        withBias: tf.fused.matMul({ a, b, bias, activation }),
        transposed: tf.fused.matMul({ a: tf.transpose(a), b, transposeA: true, activation }),
      };
    });
  });
});
