import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import { crossEntropy, klDivergence, matDistillationLoss, tradesLoss } from '@mat/core';

/** Values and gradients written by scripts/reference/make_loss_fixture.py (PyTorch, float64). */
interface Fixture {
  labels: number[];
  crossEntropy: { logits: number[][]; value: number; gradLogits: number[][] };
  klDivergence: {
    tau: number;
    teacher: number[][];
    student: number[][];
    value: number;
    gradStudent: number[][];
  }[];
  trades: {
    beta: number;
    clean: number[][];
    adv: number[][];
    value: number;
    gradClean: number[][];
    gradAdv: number[][];
  };
  mat: {
    tau: number;
    lambdaOwn: number;
    lambdaPeer: number;
    ownStudent: number[][];
    ownTeachers: number[][][];
    peerStudents: number[][][];
    peerTeachers: number[][][];
    value: number;
    totalWithMadryBase: number;
    gradOwnStudent: number[][];
    gradPeerStudents: number[][][];
  };
}

const fixture: Fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../fixtures/losses/torch-losses.json'), 'utf8'),
);
const labels = () => tf.tensor1d(fixture.labels, 'int32');

function expectClose(actual: tf.Tensor, expected: number | number[][], digits = 5): void {
  const flat = typeof expected === 'number' ? [expected] : expected.flat();
  const got = actual.dataSync();
  expect(got.length).toBe(flat.length);
  flat.forEach((e, i) => expect(got[i]).toBeCloseTo(e, digits));
}

describe('losses against PyTorch', () => {
  it('cross-entropy value and gradient', () => {
    const c = fixture.crossEntropy;
    const z = tf.tensor2d(c.logits);
    const y = labels();
    const { value, grad } = tf.valueAndGrad((l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, y))(z);
    expectClose(value, c.value);
    expectClose(grad, c.gradLogits);
  });

  it.each(fixture.klDivergence)('KL divergence (τ = $tau) value and student gradient', (c) => {
    const teacher = tf.tensor2d(c.teacher);
    const { value, grad } = tf.valueAndGrad((s: tf.Tensor) => klDivergence(teacher, s as tf.Tensor2D, c.tau))(
      tf.tensor2d(c.student),
    );
    expectClose(value, c.value);
    expectClose(grad, c.gradStudent);
  });

  it('TRADES value and gradients through BOTH the clean and the adversarial logits', () => {
    const c = fixture.trades;
    const y = labels();
    const { value, grads } = tf.valueAndGrads((clean: tf.Tensor, adv: tf.Tensor) =>
      tradesLoss(clean as tf.Tensor2D, adv as tf.Tensor2D, y, c.beta),
    )([tf.tensor2d(c.clean), tf.tensor2d(c.adv)]);
    expectClose(value, c.value);
    expectClose(grads[0], c.gradClean);
    expectClose(grads[1], c.gradAdv);
  });

  it('MAT distillation value and student gradients (teachers detached)', () => {
    const c = fixture.mat;
    const ownTeachers = c.ownTeachers.map((t) => tf.tensor2d(t));
    const peerTeachers = c.peerTeachers.map((t) => tf.tensor2d(t));
    const loss = (own: tf.Tensor, ...peers: tf.Tensor[]) =>
      matDistillationLoss({
        ownStudent: own as tf.Tensor2D,
        ownTeachers,
        peerStudents: peers as tf.Tensor2D[],
        peerTeachers,
        lambdaOwn: c.lambdaOwn,
        lambdaPeer: c.lambdaPeer,
        tau: c.tau,
      });
    const inputs = [c.ownStudent, ...c.peerStudents].map((t) => tf.tensor2d(t));
    const { value, grads } = tf.valueAndGrads(loss)(inputs);
    expectClose(value, c.value);
    expectClose(grads[0], c.gradOwnStudent);
    grads.slice(1).forEach((g, j) => expectClose(g, c.gradPeerStudents[j]));
    const total = tf.add(
      crossEntropy(inputs[0] as tf.Tensor2D, labels()),
      loss(inputs[0], ...inputs.slice(1)),
    );
    expectClose(total, c.totalWithMadryBase);
  });
});
