import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { klDivergence, matDistillationLoss, Rng, stopGradient, tradesLoss } from '@mat/core';

const randomLogits = (rng: Rng, b: number, k: number) =>
  tf.tensor2d(rng.fillNormal(new Float32Array(b * k), 0, 2), [b, k]);

/** Central finite differences of a scalar function of one [b, k] tensor, in float32 (h = 1e-2). */
function finiteDifferences(f: (t: tf.Tensor2D) => tf.Scalar, at: tf.Tensor2D, h = 1e-2): Float32Array {
  const base = at.dataSync();
  const out = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const eval1 = (d: number) =>
      tf.tidy(() => {
        const moved = base.slice();
        moved[i] += d;
        return f(tf.tensor2d(moved, at.shape as [number, number])).dataSync()[0];
      });
    out[i] = (eval1(h) - eval1(-h)) / (2 * h);
  }
  return out;
}

describe('loss gradients', () => {
  const rng = new Rng(12);
  const [b, k, tau] = [3, 4, 2];
  const ownStudent = randomLogits(rng, b, k);
  const ownTeachers = [randomLogits(rng, b, k), randomLogits(rng, b, k)];
  const peerStudents = [randomLogits(rng, b, k), randomLogits(rng, b, k)];
  const peerTeachers = [randomLogits(rng, b, k), randomLogits(rng, b, k)];
  const mat = (own: tf.Tensor2D, peers = peerStudents, ownT = ownTeachers, peerT = peerTeachers) =>
    matDistillationLoss({
      ownStudent: own,
      ownTeachers: ownT,
      peerStudents: peers,
      peerTeachers: peerT,
      lambdaOwn: 0.8,
      lambdaPeer: 0.5,
      tau,
    });

  it('MAT: analytic gradient w.r.t. the student logits matches finite differences', () => {
    const analytic = tf
      .grad((s: tf.Tensor) => mat(s as tf.Tensor2D))(ownStudent)
      .dataSync();
    const numeric = finiteDifferences((s) => mat(s), ownStudent);
    expect(Math.max(...analytic.map(Math.abs))).toBeGreaterThan(1e-2);
    analytic.forEach((g, i) => expect(g).toBeCloseTo(numeric[i], 3));

    const peerAnalytic = tf.grad((p: tf.Tensor) => mat(ownStudent, [p as tf.Tensor2D, peerStudents[1]]))(
      peerStudents[0],
    );
    const peerNumeric = finiteDifferences((p) => mat(ownStudent, [p, peerStudents[1]]), peerStudents[0]);
    peerAnalytic.dataSync().forEach((g, i) => expect(g).toBeCloseTo(peerNumeric[i], 3));
  });

  it('MAT: teachers receive exactly zero gradient, even when passed undetached', () => {
    const grads = tf.grads((t0: tf.Tensor, t1: tf.Tensor) =>
      mat(
        ownStudent,
        peerStudents,
        [t0 as tf.Tensor2D, ownTeachers[1]],
        [t1 as tf.Tensor2D, peerTeachers[1]],
      ),
    )([ownTeachers[0], peerTeachers[0]]);
    for (const g of grads) expect(Array.from(g.dataSync()).every((v) => v === 0)).toBe(true);
  });

  it('KL divergence: zero teacher gradient, non-zero student gradient; stopGradient is the identity forward', () => {
    const [gT, gS] = tf.grads((t: tf.Tensor, s: tf.Tensor) =>
      klDivergence(t as tf.Tensor2D, s as tf.Tensor2D, tau),
    )([ownTeachers[0], ownStudent]);
    expect(Array.from(gT.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Math.max(...Array.from(gS.dataSync(), Math.abs))).toBeGreaterThan(1e-3);
    expect(Array.from(stopGradient(ownStudent).dataSync())).toEqual(Array.from(ownStudent.dataSync()));
  });

  it('TRADES: the clean side is differentiated (as in the reference) and matches finite differences', () => {
    const y = tf.tensor1d([0, 3, 1], 'int32');
    const adv = peerStudents[0];
    const f = (clean: tf.Tensor2D) => tradesLoss(clean, adv, y, 6);
    const analytic = tf
      .grad((c: tf.Tensor) => f(c as tf.Tensor2D))(ownStudent)
      .dataSync();
    const numeric = finiteDifferences(f, ownStudent);
    analytic.forEach((g, i) => expect(g).toBeCloseTo(numeric[i], 2));
  });

  it('rejects mismatched inputs with a message naming the problem', () => {
    expect(() => mat(ownStudent, [peerStudents[0]])).toThrow(/1 peer students but 2 peer teachers/);
    expect(() => mat(ownStudent, peerStudents, [tf.zeros([b, k + 1]) as tf.Tensor2D])).toThrow(
      /shapes differ/,
    );
    expect(() => klDivergence(ownStudent, ownStudent, 0)).toThrow(/tau must be > 0/);
    expect(() => tradesLoss(ownStudent, ownStudent, tf.tensor1d([0], 'int32'), 1)).toThrow(
      /labels of shape \[3\]/,
    );
    expect(() => tradesLoss(ownStudent, ownStudent, tf.tensor1d([0, 1, 2], 'int32'), -1)).toThrow(/beta/);
  });
});
