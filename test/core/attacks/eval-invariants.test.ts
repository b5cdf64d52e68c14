import * as tf from '@tensorflow/tfjs-core';
import { ATTACK_NORMS, createAttack, Rng, type AttackName, type AttackSpec } from '@mat/core';
import { randomBatch, TinyConvNet } from '../helpers/tiny-models';
import { expectAttackContract, perSampleNorms, TEST_EPS } from './attack-test-utils';

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
    const progress: [number, number][] = [];
    const adv = expectAttackContract(spec, model, x, y, { onProgress: (d, t) => progress.push([d, t]) });
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

describe.each([
  { name: 'square', norm: 'linf', eps: 0.05 },
  { name: 'square', norm: 'l2', eps: 1 },
  { name: 'apgd-ce', norm: 'l1', eps: 5 },
] as AttackSpec[])('$name $norm on 3-channel 16×16 images', (spec) => {
  it('stays in the ball and the box and lowers accuracy', () => {
    const model = new TinyConvNet([16, 16, 3], 4, 3, 2);
    const { x } = randomBatch([8, 16, 16, 3], 4, 1);
    const y = tf.tidy(
      () => tf.cast(tf.argMax(model.forward(x, { training: false }), 1), 'int32') as tf.Tensor1D,
    );
    const adv = createAttack({ ...spec, steps: spec.name === 'square' ? 100 : 10 }, new Rng(2)).attack(
      model,
      x,
      y,
    );
    for (const n of perSampleNorms(adv, x, spec.norm))
      expect(n).toBeLessThanOrEqual(spec.eps * (1 + 1e-6) + 1e-6);
    const v = adv.dataSync();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    const fooled = tf.tidy(
      () =>
        tf
          .sum(tf.cast(tf.notEqual(tf.argMax(model.forward(adv, { training: false }), 1), y), 'int32'))
          .dataSync()[0],
    );
    expect(fooled).toBeGreaterThan(0);
    tf.dispose([adv, x, y]);
    model.dispose();
  });
});
