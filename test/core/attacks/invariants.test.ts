import * as tf from '@tensorflow/tfjs-core';
import { createAttack, NORMS, Rng, type AttackSpec } from '@mat/core';
import { randomBatch, TinyConvNet } from '../helpers/tiny-models';
import { expectAttackContract, TEST_EPS } from './attack-test-utils';

/**
 * One parametrised suite over the training attacks: every attack × norm × loss keeps the contract (the
 * evaluation attacks have theirs in eval-invariants.test.ts).
 */
const SPECS: AttackSpec[] = (['fgsm', 'pgd'] as const).flatMap((name) =>
  NORMS.flatMap((norm) =>
    (['ce', 'trades-kl'] as const).map((loss) => ({
      name,
      norm,
      eps: TEST_EPS[norm],
      loss,
      // FGSM needs a random start for the TRADES KL (its gradient is zero at x' = x).
      ...(name === 'fgsm' ? { randomStart: loss === 'trades-kl' } : { steps: 5, restarts: 2 }),
    })),
  ),
);

describe.each(SPECS)('$name $norm loss=$loss', (spec) => {
  const model = new TinyConvNet([8, 8, 1], 4, 3, 11);
  const { x, y } = randomBatch([6, 8, 8, 1], 4, 5);
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y]);
  });

  it('stays in the eps-ball and the box, keeps the shape, leaks nothing, changes no weight', () => {
    const adv = expectAttackContract(spec, model, x, y);
    adv.dispose();
  });

  it('is deterministic by seed', () => {
    const a = createAttack(spec, new Rng(21)).attack(model, x, y);
    const b = createAttack(spec, new Rng(21)).attack(model, x, y);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);
  });
});
