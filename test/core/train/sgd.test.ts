import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Sgd } from '../../../packages/core/src/train/sgd';
import { learningRateAt } from '../../../packages/core/src/train/schedule';

describe('Sgd (torch.optim.SGD semantics)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('matches a hand-computed two-step update with momentum and weight decay', () => {
    const w = tf.variable(tf.tensor1d([1, -2]));
    const opt = new Sgd([{ name: 'w', variable: w }], { momentum: 0.9, weightDecay: 0.1, nesterov: false });
    // step 1: g = [0.5, 1] + 0.1*[1,-2] = [0.6, 0.8]; b = g; w = [1,-2] - 0.5*b = [0.7, -2.4]
    opt.step({ w: tf.tensor1d([0.5, 1]) }, 0.5);
    expect(Array.from(w.dataSync())).toEqual([expect.closeTo(0.7, 6), expect.closeTo(-2.4, 6)]);
    // step 2: g = [0.5, 1] + 0.1*[0.7,-2.4] = [0.57, 0.76]; b = 0.9*[0.6,0.8] + g = [1.11, 1.48]
    //         w = [0.7,-2.4] - 0.5*[1.11,1.48] = [0.145, -3.14]
    opt.step({ w: tf.tensor1d([0.5, 1]) }, 0.5);
    expect(Array.from(w.dataSync())).toEqual([expect.closeTo(0.145, 5), expect.closeTo(-3.14, 5)]);
    const [state] = opt.state();
    expect(Array.from(state.variable.dataSync())).toEqual([expect.closeTo(1.11, 5), expect.closeTo(1.48, 5)]);
    opt.dispose();
    w.dispose();
  });

  it('nesterov uses g + momentum * b', () => {
    const w = tf.variable(tf.tensor1d([0]));
    const opt = new Sgd([{ name: 'w', variable: w }], { momentum: 0.5, weightDecay: 0, nesterov: true });
    opt.step({ w: tf.tensor1d([2]) }, 1); // b = 2, d = 2 + 0.5*2 = 3
    expect(w.dataSync()[0]).toBeCloseTo(-3, 6);
    opt.dispose();
    w.dispose();
  });

  it('does not leak tensors and rejects missing gradients and mismatched state', () => {
    const w = tf.variable(tf.zeros([3]));
    const opt = new Sgd([{ name: 'w', variable: w }], { momentum: 0.9, weightDecay: 5e-4, nesterov: false });
    const g = tf.ones([3]);
    opt.step({ w: g }, 0.1);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) opt.step({ w: g }, 0.1);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => opt.step({}, 0.1)).toThrow(/no gradient for parameter w/);
    expect(() => opt.loadState(new Map([['w', { shape: [2], data: new Float32Array(2) }]]))).toThrow(/shape/);
    expect(() => opt.loadState(new Map())).toThrow(/no momentum buffer for w/);
    tf.dispose([g, w]);
    opt.dispose();
  });
});

describe('learningRateAt', () => {
  it('piecewise divides at the milestones', () => {
    const s = { type: 'piecewise' as const, milestones: [0.5, 0.75], gamma: 0.1 };
    expect(learningRateAt(0.1, s, 0, 100)).toBeCloseTo(0.1);
    expect(learningRateAt(0.1, s, 49, 100)).toBeCloseTo(0.1);
    expect(learningRateAt(0.1, s, 50, 100)).toBeCloseTo(0.01);
    expect(learningRateAt(0.1, s, 80, 100)).toBeCloseTo(0.001);
  });
  it('cosine goes from lr to ~0 and warms up linearly', () => {
    expect(learningRateAt(0.2, { type: 'cosine' }, 0, 10)).toBeCloseTo(0.2);
    expect(learningRateAt(0.2, { type: 'cosine' }, 5, 10)).toBeCloseTo(0.1);
    expect(learningRateAt(0.2, { type: 'cosine', warmup: 0.5 }, 0, 10)).toBeCloseTo(0.04);
    expect(learningRateAt(0.2, { type: 'cosine', warmup: 0.5 }, 5, 10)).toBeCloseTo(0.2);
    expect(() => learningRateAt(0.1, { type: 'constant' }, 0, 0)).toThrow(/totalSteps/);
  });
});
