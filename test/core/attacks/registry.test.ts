import { ATTACK_NAMES, createAttack, Fgsm, PgdL1, PgdL2, PgdLinf, Rng, type AttackSpec } from '@mat/core';

describe('createAttack', () => {
  const rng = new Rng(1);

  it('builds the class for each name × norm and fills documented defaults', () => {
    expect(ATTACK_NAMES).toEqual(['fgsm', 'pgd']);
    expect(createAttack({ name: 'pgd', norm: 'linf', eps: 0.1 }, rng)).toBeInstanceOf(PgdLinf);
    expect(createAttack({ name: 'pgd', norm: 'l2', eps: 1 }, rng)).toBeInstanceOf(PgdL2);
    expect(createAttack({ name: 'pgd', norm: 'l1', eps: 10 }, rng)).toBeInstanceOf(PgdL1);
    const fgsm = createAttack({ name: 'fgsm', norm: 'l2', eps: 1 }, rng) as Fgsm;
    expect(fgsm).toBeInstanceOf(Fgsm);
    expect(fgsm.norm).toBe('l2');
    expect(fgsm.options).toMatchObject({
      steps: 1,
      stepSize: 1,
      randomStart: false,
      restarts: 1,
      loss: 'ce',
    });
    const fgsmRs = createAttack({ name: 'fgsm', norm: 'linf', eps: 0.1, randomStart: true }, rng) as Fgsm;
    expect(fgsmRs.options.stepSize).toBeCloseTo(0.125, 12);
    const pgd = createAttack({ name: 'pgd', norm: 'linf', eps: 0.1 }, rng) as PgdLinf;
    expect(pgd.options).toMatchObject({
      steps: 10,
      randomStart: true,
      restarts: 1,
      loss: 'ce',
      mode: { training: false },
    });
    expect(pgd.options.stepSize).toBeCloseTo(0.025, 12);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['unknown name', { name: 'cw' }, /unknown attack 'cw'; known: fgsm, pgd/],
    ['unknown norm', { norm: 'l3' }, /unknown norm 'l3'/],
    ['eps = 0', { eps: 0 }, /eps must be a finite number > 0, got 0/],
    ['eps < 0', { eps: -1 }, /eps must be/],
    ['eps NaN', { eps: NaN }, /eps must be/],
    ['steps = 0', { steps: 0 }, /steps must be an integer ≥ 1, got 0/],
    ['fractional steps', { steps: 2.5 }, /steps must be an integer/],
    ['stepSize ≤ 0', { stepSize: 0 }, /stepSize must be a finite number > 0/],
    ['restarts = 0', { restarts: 0 }, /restarts must be an integer ≥ 1/],
    ['unknown loss', { loss: 'hinge' }, /unknown loss 'hinge'/],
    ['trades-kl without random start', { loss: 'trades-kl', randomStart: false }, /needs randomStart/],
    ['quantile on l∞', { l1SparsityQuantile: 90 }, /applies to norm 'l1' only/],
    ['quantile 100', { norm: 'l1', l1SparsityQuantile: 100 }, /quantile must be in \(0, 100\)/],
    ['fgsm with steps', { name: 'fgsm', steps: 10 }, /fgsm: takes exactly one step, got steps = 10/],
  ];
  it.each(bad)('rejects %s', (_what, override, message) => {
    const spec = { name: 'pgd', norm: 'linf', eps: 0.1, ...override } as unknown as AttackSpec;
    expect(() => createAttack(spec, rng)).toThrow(message);
  });
});
