import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../packages/core/src/rng';
import { describeNative, expectParity, randomTensor } from './helpers';

/**
 * The fmnist-cnn architecture in plain tf ops (conv3x3x32 same + relu + maxpool2, conv3x3x64 same + relu +
 * maxpool2, flatten, dense128 + relu, dense10) on 28x28x1, batch 1 (the cpu reference is slow): the loss gradient with respect to the
 * input (what PGD uses) and to every weight (the training step) must match the cpu backend.
 */
function fmnistProbe() {
  const rng = new Rng(2024);
  const he = (shape: number[], fanIn: number) => tf.mul(randomTensor(rng, shape), Math.sqrt(6 / fanIn));
  const params = {
    w1: he([3, 3, 1, 32], 9),
    b1: randomTensor(rng, [32], -0.1, 0.1),
    w2: he([3, 3, 32, 64], 288),
    b2: randomTensor(rng, [64], -0.1, 0.1),
    w3: he([3136, 128], 3136),
    b3: randomTensor(rng, [128], -0.1, 0.1),
    w4: he([128, 10], 128),
    b4: randomTensor(rng, [10], -0.1, 0.1),
  };
  const x = randomTensor(rng, [1, 28, 28, 1], 0, 1) as tf.Tensor4D;
  const labels = tf.oneHot(tf.tensor1d([3], 'int32'), 10);
  const names = Object.keys(params) as (keyof typeof params)[];
  const loss = (input: tf.Tensor, ...ws: tf.Tensor[]) => {
    const p = Object.fromEntries(names.map((n, i) => [n, ws[i]])) as Record<keyof typeof params, tf.Tensor>;
    let h = tf.relu(
      tf.add(tf.conv2d(input as tf.Tensor4D, p.w1 as tf.Tensor4D, 1, 'same'), p.b1),
    ) as tf.Tensor4D;
    h = tf.maxPool(h, 2, 2, 'valid');
    h = tf.relu(tf.add(tf.conv2d(h, p.w2 as tf.Tensor4D, 1, 'same'), p.b2)) as tf.Tensor4D;
    h = tf.maxPool(h, 2, 2, 'valid');
    let d = tf.relu(tf.add(tf.matMul(tf.reshape(h, [1, 3136]), p.w3 as tf.Tensor2D), p.b3)) as tf.Tensor2D;
    d = tf.add(tf.matMul(d, p.w4 as tf.Tensor2D), p.b4);
    return tf.losses.softmaxCrossEntropy(labels, d);
  };
  const { value, grads } = tf.valueAndGrads(loss)([x, ...names.map((n) => params[n])]);
  return { loss: value, dx: grads[0], ...Object.fromEntries(names.map((n, i) => [`d${n}`, grads[i + 1]])) };
}

describeNative('fmnist-cnn (tf ops) on native matches cpu', () => {
  it('loss, input gradient and every weight gradient', async () => {
    const errors = await expectParity('fmnist-cnn', fmnistProbe);
    expect(Object.keys(errors).sort()).toEqual([
      'db1',
      'db2',
      'db3',
      'db4',
      'dw1',
      'dw2',
      'dw3',
      'dw4',
      'dx',
      'loss',
    ]);
  });
});
