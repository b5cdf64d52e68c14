import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../packages/core/src/rng';
import { RELU_GRAD_KERNEL } from '../../packages/native/src/relu-grad';
import { describeNative, expectParity, randomTensor } from './helpers';

describeNative('native element-wise kernels match cpu', () => {
  it('Relu and its gradient (Step, Multiply), on sizes above and below the threading grain', async () => {
    await expectParity('relu', () => {
      const rng = new Rng(1);
      const small = randomTensor(rng, [3, 5, 7]);
      const large = randomTensor(rng, [2, 300, 300]); // > 2 * 65536 elements: the chunked path
      const rs = randomTensor(rng, small.shape);
      const rl = randomTensor(rng, large.shape);
      const g = (r: tf.Tensor) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), r)));
      return { small: tf.relu(small), large: tf.relu(large), dSmall: g(rs)(small), dLarge: g(rl)(large) };
    });
  });

  it('the ReLU gradient runs fused on native, and first and second order gradients match cpu', async () => {
    await tf.setBackend('native');
    const x = tf.tensor1d([-1, 2, 0, 3]);
    const profile = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(tf.relu(t)))(x));
    expect(profile.kernelNames).toContain(RELU_GRAD_KERNEL);
    expect(profile.kernelNames).not.toContain('Step');
    x.dispose();
    await expectParity('relu second order', () => {
      const rng = new Rng(6);
      const v = tf.concat([tf.tensor1d([NaN, -0, 0]), randomTensor(rng, [200])]);
      const r = randomTensor(rng, v.shape);
      const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), tf.mul(t, r)));
      const g = (t: tf.Tensor) => tf.sum(tf.mul(tf.grad(f)(t), r));
      return { first: tf.grad(f)(v), second: tf.grad(g)(v) };
    });
  });

  it('Step keeps NaN and uses alpha for x <= 0', async () => {
    await expectParity('step', () => {
      const x = tf.tensor1d([-2, -0, 0, 1e-30, 3, NaN]);
      return { step: tf.step(x, 0.25), sum: tf.add(tf.step(x, 0.25), 1) };
    });
  });

  it('Sum over all but the last axis (bias gradient), with and without keepDims, and other axes', async () => {
    await expectParity('sum', () => {
      const rng = new Rng(4);
      const x = randomTensor(rng, [3, 5, 7, 11]);
      return {
        leading: tf.sum(x, [0, 1, 2]),
        keep: tf.sum(x, [2, 0, 1], true),
        other: tf.sum(x, [1, 3]),
        biasGrad: tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.add(x, b), x)))(randomTensor(rng, [11])),
      };
    });
  });

  it('Sign (NaN and -0 give 0) and ClipByValue (NaN passes)', async () => {
    await expectParity('sign/clip', () => {
      const rng = new Rng(5);
      const x = tf.concat([tf.tensor1d([-2, -0, 0, 3, NaN, 1e-30, -1e-30]), randomTensor(rng, [300000])]);
      return { sign: tf.sign(x), clip: tf.clipByValue(x, -0.25, 0.5) };
    });
  });

  it('int32 inputs run on the cpu kernels', async () => {
    await tf.setBackend('native');
    const a = tf.tensor1d([1, -2, 3], 'int32');
    const out = tf.add(tf.relu(a), a);
    expect(out.dtype).toBe('int32');
    expect(Array.from(out.dataSync())).toEqual([2, -2, 6]);
    tf.dispose([a, out]);
  });
});
