import * as tf from '@tensorflow/tfjs-core';
import { createAttack, NORMS, PgdLinf, Rng, softmaxKlPerSample, TRAIN_MODE, type Norm } from '@mat/core';
import { randomBatch, RecordingModel, TinyConvNet } from '../helpers/tiny-models';
import { correct, mean, perSampleLoss, TEST_EPS } from './attack-test-utils';

describe('attack strength', () => {
  const model = new TinyConvNet([8, 8, 1], 4, 4, 7);
  const { x, y } = randomBatch([16, 8, 8, 1], 4, 8);
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y]);
  });

  it.each(NORMS)('%s: clean < FGSM ≤ PGD in mean loss, and PGD raises every sample', (norm: Norm) => {
    const eps = TEST_EPS[norm];
    const fgsm = createAttack({ name: 'fgsm', norm, eps }, new Rng(1)).attack(model, x, y);
    const pgd = createAttack({ name: 'pgd', norm, eps, steps: 20 }, new Rng(1)).attack(model, x, y);
    const clean = perSampleLoss(model, x, y);
    const lossFgsm = perSampleLoss(model, fgsm, y);
    const lossPgd = perSampleLoss(model, pgd, y);
    expect(mean(lossFgsm)).toBeGreaterThan(mean(clean));
    expect(mean(lossPgd)).toBeGreaterThanOrEqual(mean(lossFgsm));
    lossPgd.forEach((l, i) => expect(l).toBeGreaterThan(clean[i]));
    tf.dispose([fgsm, pgd]);
  });

  it.each(NORMS)('%s: more restarts are never worse, per sample', (norm: Norm) => {
    // Labels = the model's own clean predictions and a small ball, so that some samples survive and the
    // restarts have something to compete on.
    const y = tf.tidy(
      () => tf.cast(tf.argMax(model.forward(x, { training: false }), 1), 'int32') as tf.Tensor1D,
    );
    const spec = { name: 'pgd' as const, norm, eps: 0.2 * TEST_EPS[norm], steps: 3 };
    const one = createAttack({ ...spec, restarts: 1 }, new Rng(5)).attack(model, x, y);
    const four = createAttack({ ...spec, restarts: 4 }, new Rng(5)).attack(model, x, y);
    const [c1, c4] = [correct(model, one, y), correct(model, four, y)];
    const [l1, l4] = [perSampleLoss(model, one, y), perSampleLoss(model, four, y)];
    c1.forEach((ok1, i) => {
      if (!ok1) expect(c4[i]).toBe(false); // once fooled, stays fooled
      if (ok1 && c4[i]) expect(l4[i]).toBeGreaterThanOrEqual(l1[i] - 1e-6);
    });
    // And the restarts actually found something better somewhere.
    const improved = l4.some((l, i) => l > l1[i] + 1e-4 || (c1[i] && !c4[i]));
    expect(improved).toBe(true);
    tf.dispose([one, four, y]);
  });

  it("trades-kl maximises KL(f(x) ‖ f(x')) rather than the cross-entropy", () => {
    const adv = createAttack({ name: 'pgd', norm: 'linf', eps: 0.1, loss: 'trades-kl' }, new Rng(2)).attack(
      model,
      x,
      y,
    );
    const tiny = createAttack(
      { name: 'pgd', norm: 'linf', eps: 0.1, loss: 'trades-kl', steps: 1, stepSize: 1e-4 },
      new Rng(2),
    ).attack(model, x, y);
    const kl = (xa: tf.Tensor4D) =>
      tf.tidy(() =>
        mean(
          Array.from(
            softmaxKlPerSample(
              model.forward(x, { training: false }),
              model.forward(xa, { training: false }),
            ).dataSync(),
          ),
        ),
      );
    expect(kl(adv)).toBeGreaterThan(100 * kl(tiny));
    tf.dispose([adv, tiny]);
  });

  it('crafts in eval mode by default, never asks to update statistics, and rejects TRAIN_MODE', () => {
    const recorder = new RecordingModel(model);
    const rng = new Rng(4);
    tf.dispose(
      new PgdLinf({ eps: 0.1, steps: 2, rng, restarts: 2, loss: 'trades-kl' }).attack(recorder, x, y),
    );
    expect(recorder.modes.length).toBeGreaterThan(0);
    for (const m of recorder.modes) expect(m).toEqual({ training: false });
    recorder.modes.length = 0;
    tf.dispose(new PgdLinf({ eps: 0.1, steps: 2, rng, mode: { training: true } }).attack(recorder, x, y));
    for (const m of recorder.modes) expect(m).toEqual({ training: true });
    expect(() => new PgdLinf({ eps: 0.1, rng, mode: TRAIN_MODE })).toThrow(/updateStats/);
  });
});
