import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../packages/core/src/rng';
import { describeNative, expectParity, randomTensor } from './helpers';

describeNative('native Sum, Mean, Tile and FusedBatchNorm match cpu', () => {
  it('Sum and Mean over contiguous axis ranges (native) and others (cpu), with keepDims', async () => {
    await expectParity('reduce', () => {
      const rng = new Rng(31);
      const x = randomTensor(rng, [4, 5, 6, 7]);
      const big = randomTensor(rng, [8, 40, 40, 12]); // > 2^17 elements: the threaded paths
      const out: Record<string, tf.Tensor> = {};
      for (const axes of [[0, 1, 2], [1, 2], [3], [0], [2, 3], [0, 1, 2, 3], [0, 2], [1, 3]]) {
        out[`sum ${axes}`] = tf.sum(x, axes);
        out[`mean ${axes} keep`] = tf.mean(x, axes, true);
      }
      out.bigSumLeading = tf.sum(big, [0, 1, 2]);
      out.bigMeanMiddle = tf.mean(big, [1, 2]);
      out.scalarMean = tf.mean(x);
      return out;
    });
  });

  it('Tile along any axes', async () => {
    await expectParity('tile', () => {
      const rng = new Rng(32);
      const v = randomTensor(rng, [1, 1, 1, 6]);
      const m = randomTensor(rng, [2, 3]);
      return {
        channels: tf.tile(v, [3, 4, 5, 1]),
        matrix: tf.tile(m, [2, 3]),
        noop: tf.tile(m, [1, 1]),
        vector: tf.tile(randomTensor(rng, [5]), [4]),
      };
    });
  });

  it('batch norm forward (running and batch statistics) and its gradients', async () => {
    await expectParity('batchnorm', () => {
      const rng = new Rng(33);
      const x = randomTensor(rng, [3, 5, 4, 6]) as tf.Tensor4D;
      const gamma = randomTensor(rng, [6], 0.5, 1.5) as tf.Tensor1D;
      const beta = randomTensor(rng, [6]) as tf.Tensor1D;
      const runMean = randomTensor(rng, [6], -0.2, 0.2) as tf.Tensor1D;
      const runVar = randomTensor(rng, [6], 0.5, 1.5) as tf.Tensor1D;
      const r = randomTensor(rng, x.shape);
      const train = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        return tf.batchNorm4d(
          a as tf.Tensor4D,
          mean as tf.Tensor1D,
          variance as tf.Tensor1D,
          b as tf.Tensor1D,
          g as tf.Tensor1D,
          1e-5,
        );
      };
      const [dx, dg, db] = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(train(a, g, b), r)),
      )([x, gamma, beta]);
      const evalGrad = tf.grad((a: tf.Tensor) =>
        tf.sum(tf.mul(tf.batchNorm4d(a as tf.Tensor4D, runMean, runVar, beta, gamma, 1e-5), r)),
      )(x);
      // Every input's gradient through running statistics (the native backend computes each lazily).
      const [eX, eMean, eVar, eBeta, eGamma] = tf.grads(
        (a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, b: tf.Tensor, g: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.batchNorm4d(
                a as tf.Tensor4D,
                m as tf.Tensor1D,
                v as tf.Tensor1D,
                b as tf.Tensor1D,
                g as tf.Tensor1D,
                1e-3,
              ),
              r,
            ),
          ),
      )([x, runMean, runVar, beta, gamma]);
      return {
        eX,
        eMean,
        eVar,
        eBeta,
        eGamma,
        evalMode: tf.batchNorm4d(x, runMean, runVar, beta, gamma, 1e-5),
        noScaleOffset: tf.batchNorm4d(x, runMean, runVar),
        trainMode: train(x, gamma, beta),
        dx,
        dg,
        db,
        evalGrad,
      };
    });
  });
});
