import * as tf from '@tensorflow/tfjs-core';
import { createAttack, Rng, type AttackSpec } from '@mat/core';
import { loadFashionMnist } from '../helpers/fashion-mnist-subset';
import { TinyMlp } from '../helpers/tiny-models';
import { perSampleNorms } from './attack-test-utils';

/**
 * End to end on real data: an undefended MLP trained briefly on 2000 Fashion-MNIST images reaches a
 * decent clean accuracy, and PGD-l∞ with eps = 0.3 (the usual MNIST-family budget) takes it to ~0.
 */
describe('attacks on a Fashion-MNIST model', () => {
  const model = new TinyMlp([28, 28, 1], 10, 64, 1);
  let xTest: tf.Tensor4D;
  let yTest: tf.Tensor1D;

  const accuracy = (x: tf.Tensor4D, y: tf.Tensor1D): number =>
    tf.tidy(
      () =>
        tf
          .mean(tf.cast(tf.equal(tf.argMax(model.forward(x, { training: false }), 1), y), 'float32'))
          .dataSync()[0],
    );

  beforeAll(() => {
    const train = loadFashionMnist('train', 2000);
    const test = loadFashionMnist('t10k', 300);
    xTest = tf.tensor4d(test.images, [300, 28, 28, 1]);
    yTest = tf.tensor1d(test.labels, 'int32');
    const optimizer = tf.train.adam(0.003);
    const order = new Rng(2);
    const batch = 100;
    for (let epoch = 0; epoch < 6; epoch++) {
      const perm = order.permutation(2000);
      for (let start = 0; start < 2000; start += batch) {
        const idx = perm.subarray(start, start + batch);
        const xb = new Float32Array(batch * 784);
        idx.forEach((j, k) => xb.set(train.images.subarray(j * 784, (j + 1) * 784), k * 784));
        const labels = Int32Array.from(idx, (j) => train.labels[j]);
        tf.tidy(() => {
          const x = tf.tensor4d(xb, [batch, 28, 28, 1]);
          const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
          optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.forward(x, { training: true })));
        });
      }
    }
    optimizer.dispose();
  });
  afterAll(() => {
    model.dispose();
    tf.dispose([xTest, yTest]);
  });

  it('PGD-l∞ eps 0.3, 20 steps: clean accuracy > 75 % drops below 5 %', () => {
    const clean = accuracy(xTest, yTest);
    const adv = createAttack({ name: 'pgd', norm: 'linf', eps: 0.3, steps: 20 }, new Rng(3)).attack(
      model,
      xTest,
      yTest,
    );
    const robust = accuracy(adv, yTest);
    expect(clean).toBeGreaterThan(0.75);
    expect(robust).toBeLessThan(0.05);
    adv.dispose();
  });

  // Invariants at the real input size (784 values), where float32 rounding is hardest to keep in the ball.
  const specs: AttackSpec[] = [
    { name: 'pgd', norm: 'l2', eps: 1.5, steps: 10 },
    { name: 'pgd', norm: 'l1', eps: 10, steps: 10 },
    { name: 'fgsm', norm: 'linf', eps: 0.1 },
  ];
  it.each(specs)('$name $norm eps $eps: in the ball and the box at 28×28, and lowers accuracy', (spec) => {
    const x = xTest.slice(0, 100);
    const y = yTest.slice(0, 100);
    const adv = createAttack(spec, new Rng(4)).attack(model, x, y);
    for (const n of perSampleNorms(adv, x, spec.norm)) expect(n).toBeLessThanOrEqual(spec.eps + 1e-6);
    const values = adv.dataSync();
    expect(values.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(accuracy(adv, y)).toBeLessThan(accuracy(x, y) - 0.2);
    tf.dispose([x, y, adv]);
  });
});
