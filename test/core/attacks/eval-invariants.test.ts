import * as tf from '@tensorflow/tfjs-core';
import { ATTACK_NORMS, createAttack, Rng, type AttackName, type AttackSpec } from '@mat/core';
import { randomBatch, snapshotParams, TinyConvNet } from '../helpers/tiny-models';
import { perSampleNorms, TEST_EPS } from './attack-test-utils';

/** The evaluation attacks of the registry × every norm each supports keep the attack contract. */
const EVAL_ATTACKS: AttackName[] = ['cw', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'square'];
const SPECS: AttackSpec[] = EVAL_ATTACKS.flatMap((name) =>
  ATTACK_NORMS[name].map((norm) => ({
    name,
    norm,
    eps: TEST_EPS[norm],
    steps: name === 'square' ? 30 : 6,
    ...(name === 'apgd-t' ? { targetClasses: 2 } : {}),
    ...(name === 'cw' ? { restarts: 2 } : {}),
  })),
);

describe.each(SPECS)('$name $norm', (spec) => {
  const model = new TinyConvNet([8, 8, 1], 4, 3, 11);
  const { x, y } = randomBatch([6, 8, 8, 1], 4, 5);
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y]);
  });

  it('stays in the eps-ball and the box, keeps the shape, leaks nothing, changes no weight, reports progress', () => {
    const before = snapshotParams(model);
    const tensorsBefore = tf.memory().numTensors;
    const progress: [number, number][] = [];
    const adv = createAttack(spec, new Rng(3), { onProgress: (d, t) => progress.push([d, t]) }).attack(
      model,
      x,
      y,
    );
    expect(tf.memory().numTensors).toBe(tensorsBefore + 1);
    expect(adv.shape).toEqual(x.shape);
    const values = adv.dataSync();
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThanOrEqual(1);
    for (const n of perSampleNorms(adv, x, spec.norm))
      expect(n).toBeLessThanOrEqual(spec.eps * (1 + 1e-6) + 1e-6);
    expect(Math.max(...perSampleNorms(adv, x, spec.norm))).toBeGreaterThan(0);
    snapshotParams(model).forEach((p, i) => expect(p).toEqual(before[i]));
    if (spec.name !== 'cw') {
      expect(progress.length).toBeGreaterThan(0);
      const [done, total] = progress[progress.length - 1];
      expect(done).toBe(total);
      progress.forEach(([d], i) => i > 0 && expect(d).toBeGreaterThanOrEqual(progress[i - 1][0]));
    }
    adv.dispose();
  });

  it('is deterministic by seed', () => {
    const a = createAttack(spec, new Rng(21)).attack(model, x, y);
    const b = createAttack(spec, new Rng(21)).attack(model, x, y);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);
  });
});
