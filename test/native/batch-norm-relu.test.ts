import * as tf from '@tensorflow/tfjs-core';
import { BATCH_NORM_RELU_KERNEL, setNativeThreads, nativeInfo } from '@mat/native';
import { BATCH_NORM_RELU_KERNEL as CORE_KERNEL } from '../../packages/core/src/models/layers/batch-norm';
import { Rng } from '../../packages/core/src/rng';
import { describeNative, expectParity, randomTensor } from './helpers';

const EPS = 1e-5;

/** relu(batchNorm(x)) as @mat/core's BatchNorm.applyRelu runs it: fused where the backend has the kernel. */
function bnRelu(
  x: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  scale: tf.Tensor,
  offset: tf.Tensor,
  fused = true,
) {
  if (fused && tf.getKernel(BATCH_NORM_RELU_KERNEL, tf.getBackend()))
    return tf
      .engine()
      .runKernel(
        BATCH_NORM_RELU_KERNEL,
        { x, mean, variance, scale, offset },
        { varianceEpsilon: EPS },
      ) as tf.Tensor;
  return tf.relu(
    tf.batchNorm4d(
      x as tf.Tensor4D,
      mean as tf.Tensor1D,
      variance as tf.Tensor1D,
      offset as tf.Tensor1D,
      scale as tf.Tensor1D,
      EPS,
    ),
  );
}

/**
 * Forward and every gradient of sum(relu(bn(x)) * r), with running statistics (as PGD) and with the batch
 * moments (a training step). shape's last axis is the channel axis.
 */
function probe(shape: number[], seed: number, fused = true) {
  const rng = new Rng(seed);
  const c = shape[shape.length - 1];
  const x = randomTensor(rng, shape);
  const gamma = randomTensor(rng, [c], 0.5, 1.5);
  const beta = randomTensor(rng, [c], -0.3, 0.3);
  const runMean = randomTensor(rng, [c], -0.2, 0.2);
  const runVar = randomTensor(rng, [c], 0.5, 1.5);
  const r = randomTensor(rng, shape);
  const evalLoss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, m: tf.Tensor, v: tf.Tensor) =>
    tf.sum(tf.mul(bnRelu(a, m, v, g, b, fused), r));
  const trainLoss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(a, [0, 1, 2]);
    return tf.sum(tf.mul(bnRelu(a, mean, variance, g, b, fused), r));
  };
  const [dx, dg, db, dm, dv] = tf.grads(evalLoss)([x, gamma, beta, runMean, runVar]);
  const [tdx, tdg, tdb] = tf.grads(trainLoss)([x, gamma, beta]);
  // PGD's case: only the input gradient is asked for.
  const onlyDx = tf.grad((a: tf.Tensor) => evalLoss(a, gamma, beta, runMean, runVar))(x);
  return {
    y: bnRelu(x, runMean, runVar, gamma, beta, fused),
    dx,
    dg,
    db,
    dm,
    dv,
    onlyDx,
    trainDx: tdx,
    trainDg: tdg,
    trainDb: tdb,
  };
}

const SMALL = [3, 5, 4, 6];
const BIG = [8, 40, 40, 12]; // > 2^17 values: the threaded and banded paths
const SIZES: [string, number[]][] = [
  ['small', SMALL],
  ['big', BIG],
];

describeNative('fused batch norm + ReLU (MatBatchNormRelu) and its gradient', () => {
  const threadsBefore = nativeInfo().threads;
  afterAll(() => setNativeThreads(threadsBefore));

  it('uses the kernel name @mat/core looks for, registered on native only', () => {
    expect(CORE_KERNEL).toBe(BATCH_NORM_RELU_KERNEL);
    expect(tf.getKernel(BATCH_NORM_RELU_KERNEL, 'native')).toBeDefined();
    expect(tf.getKernel(BATCH_NORM_RELU_KERNEL, 'cpu')).toBeUndefined();
  });

  // The tolerance of the other batch-norm parity tests: tfjs's cpu gradient groups the products differently.
  it.each(SIZES)('matches relu(batchNorm) on cpu, forward and every gradient (%s)', async (_name, shape) => {
    await expectParity(`bn-relu ${shape}`, () => probe(shape, 41), 1e-4);
  });

  it.each(SIZES)('gives the same bits as the unfused kernels on native (%s)', async (_name, shape) => {
    await tf.setBackend('native');
    const read = (fused: boolean) =>
      tf.tidy(() =>
        Object.fromEntries(
          Object.entries(probe(shape, 42, fused)).map(([k, t]) => [k, Array.from(t.dataSync())]),
        ),
      );
    const unfused = read(false);
    const fused = read(true);
    expect(Object.keys(fused)).toEqual(Object.keys(unfused));
    for (const k of Object.keys(unfused)) expect({ k, v: fused[k] }).toEqual({ k, v: unfused[k] });
  });

  it('is bit-identical for 1 and 2 threads', async () => {
    await tf.setBackend('native');
    const results = [1, 2, 1].map((threads) => {
      setNativeThreads(threads);
      return tf.tidy(() => Object.values(probe(BIG, 43)).map((t) => Array.from(t.dataSync())));
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it('leaks no tensors (forward and gradients)', async () => {
    await tf.setBackend('native');
    const rng = new Rng(44);
    const x = randomTensor(rng, SMALL);
    const p = [0, 1, 2, 3].map(() => randomTensor(rng, [SMALL[3]], 0.5, 1.5));
    const before = tf.memory().numTensors;
    const [a, b, c, d, e] = tf.grads((...t: tf.Tensor[]) => tf.sum(bnRelu(t[0], t[1], t[2], t[3], t[4])))([
      x,
      ...p,
    ]);
    tf.dispose([a, b, c, d, e]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...p]);
  });
});
