import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy, klDivergence, madryLoss, matDistillationLoss, tradesLoss } from '@mat/core';

/** Plain-JS arithmetic, independent of tfjs. */
const softmax = (z: number[], tau = 1): number[] => {
  const e = z.map((v) => Math.exp(v / tau));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
/** KL(p ‖ q) = Σ_k p_k (log p_k − log q_k). */
const kl = (p: number[], q: number[]): number =>
  p.reduce((s, pk, k) => s + pk * (Math.log(pk) - Math.log(q[k])), 0);
const value = (t: tf.Scalar): number => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};
const t2 = (rows: number[][]) => tf.tensor2d(rows);
const labels = (ys: number[]) => tf.tensor1d(ys, 'int32');

describe('losses against hand-computed values', () => {
  it('cross-entropy: mean over the batch of log Σ e^z − z_y', () => {
    // Sample 1: z = (1, 2, 3), y = 2: log(e + e² + e³) − 3 = 3.40760596 − 3 = 0.40760596
    // Sample 2: z = (0, 0, 0), y = 0: log 3 = 1.09861229
    const expected = (0.40760596444 + Math.log(3)) / 2;
    expect(
      value(
        crossEntropy(
          t2([
            [1, 2, 3],
            [0, 0, 0],
          ]),
          labels([2, 0]),
        ),
      ),
    ).toBeCloseTo(expected, 6);
    // Stable for huge logits (a naive softmax would overflow to NaN): z = (1000, 0, 0), y = 1 → 1000.
    expect(value(crossEntropy(t2([[1000, 0, 0]]), labels([1])))).toBeCloseTo(1000, 3);
  });

  it('KL divergence with temperature: batch mean of Σ p_t (log p_t − log p_s)', () => {
    const teacher = [
      [2, 0, -1],
      [0.5, 0.5, 3],
    ];
    const student = [
      [0, 1, 0],
      [1, -2, 2],
    ];
    for (const tau of [1, 2]) {
      const expected =
        (kl(softmax(teacher[0], tau), softmax(student[0], tau)) +
          kl(softmax(teacher[1], tau), softmax(student[1], tau))) /
        2;
      expect(value(klDivergence(t2(teacher), t2(student), tau))).toBeCloseTo(expected, 6);
    }
    // Identical distributions → 0.
    expect(value(klDivergence(t2(teacher), t2(teacher), 2))).toBeCloseTo(0, 7);
  });

  it('TRADES: CE(f(x), y) + β · mean KL(f(x) ‖ f(x′))', () => {
    const clean = [
      [2, 1, 0],
      [0, 1, 3],
    ];
    const adv = [
      [1, 1, 0.5],
      [0.5, 1.5, 1],
    ];
    const y = [0, 2];
    const beta = 6;
    const ce = (z: number[], k: number) => -Math.log(softmax(z)[k]);
    const expected =
      (ce(clean[0], y[0]) + ce(clean[1], y[1])) / 2 +
      beta * ((kl(softmax(clean[0]), softmax(adv[0])) + kl(softmax(clean[1]), softmax(adv[1]))) / 2);
    expect(value(tradesLoss(t2(clean), t2(adv), labels(y), beta))).toBeCloseTo(expected, 5);
  });

  it('full MAT loss of peer 0 with 2 peers, batch 2, 3 classes, τ = 2', () => {
    // Peer 0 (student) and peer 1 (teacher). x₀′, x₁′ are each peer's adversarial batch.
    const f0x0 = [
      [2, 0, -1],
      [0, 1, 1],
    ]; // f_0(x_0')  own student
    const f1x0 = [
      [1, 1, -1],
      [0, 2, 0],
    ]; // f_1(x_0')  own teacher
    const f0x1 = [
      [0, 0, 1],
      [3, 1, 0],
    ]; // f_0(x_1')  peer student
    const f1x1 = [
      [-1, 0, 2],
      [2, 2, 0],
    ]; // f_1(x_1')  peer teacher
    const y = [0, 1];
    const [tau, lambdaOwn, lambdaPeer] = [2, 0.5, 0.25];

    const klT = (teacher: number[][], student: number[][]) =>
      (kl(softmax(teacher[0], tau), softmax(student[0], tau)) +
        kl(softmax(teacher[1], tau), softmax(student[1], tau))) /
      2;
    // One teacher, so each "mean over j ≠ 0" is that single term.
    const ownTerm = tau * tau * klT(f1x0, f0x0);
    const peerTerm = tau * tau * klT(f1x1, f0x1);
    const base = (-Math.log(softmax(f0x0[0])[y[0]]) - Math.log(softmax(f0x0[1])[y[1]])) / 2; // Madry CE
    const expectedTotal = base + lambdaOwn * ownTerm + lambdaPeer * peerTerm;

    const distill = matDistillationLoss({
      ownStudent: t2(f0x0),
      ownTeachers: [t2(f1x0)],
      peerStudents: [t2(f0x1)],
      peerTeachers: [t2(f1x1)],
      lambdaOwn,
      lambdaPeer,
      tau,
    });
    const total = tf.add(madryLoss(t2(f0x0), labels(y)), distill) as tf.Scalar;
    expect(value(total)).toBeCloseTo(expectedTotal, 5);
    expect(value(distill)).toBeCloseTo(lambdaOwn * ownTerm + lambdaPeer * peerTerm, 5);
  });

  it('MAT distillation averages over teachers and is 0 without teachers', () => {
    const s = [[0, 1, 2]];
    const teachers = [[[2, 1, 0]], [[1, 1, 1]], [[0, 0, 5]]];
    const tau = 2;
    const expected =
      (0.3 * tau * tau * teachers.reduce((acc, t) => acc + kl(softmax(t[0], tau), softmax(s[0], tau)), 0)) /
      3;
    const loss = matDistillationLoss({
      ownStudent: t2(s),
      ownTeachers: teachers.map(t2),
      peerStudents: [],
      peerTeachers: [],
      lambdaOwn: 0.3,
      lambdaPeer: 1,
      tau,
    });
    expect(value(loss)).toBeCloseTo(expected, 5);
    const none = matDistillationLoss({
      ownStudent: t2(s),
      ownTeachers: [],
      peerStudents: [],
      peerTeachers: [],
      lambdaOwn: 1,
      lambdaPeer: 1,
      tau,
    });
    expect(value(none)).toBe(0);
  });
});
