import * as tf from '@tensorflow/tfjs-core';
import { createAttack, createModel, PgdLinf, Rng, TRAIN_MODE, type Model } from '@mat/core';
import { randomBatch, TinyBatchNormNet } from '../helpers/tiny-models';
import { perSampleNorms } from './attack-test-utils';

const snapshot = (vars: Model['params']) => vars.map((v) => Array.from(v.variable.dataSync()));

describe('model state under attack', () => {
  it('batch-norm running statistics never change, in eval or batch-statistics mode', () => {
    const model = new TinyBatchNormNet([6, 6, 1], 5, 8, 4);
    const { x, y } = randomBatch([8, 6, 6, 1], 5, 2);
    // Sanity: a training forward with updateStats does change the buffers of this model.
    const probe = new TinyBatchNormNet([6, 6, 1], 5, 8, 4);
    const probeBefore = snapshot(probe.buffers);
    tf.dispose(probe.forward(x, TRAIN_MODE));
    expect(snapshot(probe.buffers)).not.toEqual(probeBefore);
    probe.dispose();

    const [params, buffers] = [snapshot(model.params), snapshot(model.buffers)];
    for (const mode of [{ training: false }, { training: true }]) {
      const adv = new PgdLinf({ eps: 0.1, steps: 3, restarts: 2, rng: new Rng(3), mode }).attack(model, x, y);
      adv.dispose();
    }
    expect(snapshot(model.buffers)).toEqual(buffers);
    expect(snapshot(model.params)).toEqual(params);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('fmnist-cnn from the model registry: in the ball, no leak, weights unchanged', () => {
    const model = createModel('fmnist-cnn', { seed: 1 });
    const { x, y } = randomBatch([3, 28, 28, 1], 10, 2);
    const params = snapshot(model.params);
    const tensors = tf.memory().numTensors;
    const adv = createAttack({ name: 'pgd', norm: 'l2', eps: 1, steps: 3 }, new Rng(5)).attack(model, x, y);
    expect(tf.memory().numTensors).toBe(tensors + 1);
    for (const n of perSampleNorms(adv, x, 'l2')) expect(n).toBeLessThanOrEqual(1 + 1e-6);
    expect(snapshot(model.params)).toEqual(params);
    tf.dispose([x, y, adv]);
    model.dispose();
  });
});
