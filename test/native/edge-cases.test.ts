import * as tf from '@tensorflow/tfjs-core';
import { describeNative } from './helpers';

describeNative('native kernels on empty and degenerate inputs give what cpu gives', () => {
  const onBoth = async (f: () => tf.Tensor) => {
    const out: { shape: number[]; values: number[] }[] = [];
    for (const backend of ['cpu', 'native']) {
      await tf.setBackend(backend);
      const t = tf.tidy(f);
      out.push({ shape: t.shape.slice(), values: Array.from(t.dataSync()) });
      t.dispose();
    }
    expect(out[1]).toEqual(out[0]);
  };

  it('empty element-wise, reduction and matmul', async () => {
    await onBoth(() => tf.relu(tf.zeros([0, 3])));
    await onBoth(() => tf.add(tf.zeros([0, 3]), tf.ones([3])));
    await onBoth(() => tf.sum(tf.zeros([0, 3]), 0));
    await onBoth(() => tf.matMul(tf.zeros([2, 0]), tf.zeros([0, 3]))); // K = 0: all zeros
    await onBoth(() => tf.matMul(tf.zeros([0, 4]), tf.ones([4, 3])));
  });

  it('a conv with an empty batch, and 1x1 inputs', async () => {
    await onBoth(() =>
      tf.conv2d(tf.zeros([0, 5, 5, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 4]) as tf.Tensor4D, 1, 'same'),
    );
    await onBoth(() =>
      tf.conv2d(tf.ones([2, 1, 1, 3]) as tf.Tensor4D, tf.ones([3, 3, 3, 2]) as tf.Tensor4D, 1, 'same'),
    );
    await onBoth(() => tf.maxPool(tf.ones([1, 1, 1, 3]) as tf.Tensor4D, 2, 2, 'same'));
  });

  it('recycled output buffers never leak old values into new results', async () => {
    await tf.setBackend('native');
    const big = tf.fill([1 << 16], 7);
    tf.relu(big).dispose(); // leaves a 256 KB buffer full of 7s in the pool
    const y = tf.matMul(tf.zeros([256, 0]), tf.zeros([0, 256])); // K = 0 must write zeros, not keep the 7s
    expect(y.dataSync().every((v) => v === 0)).toBe(true);
    const s = tf.sum(tf.zeros([0, 1 << 16]), 0);
    expect(s.dataSync().every((v) => v === 0)).toBe(true);
    tf.dispose([big, y, s]);
  });
});
