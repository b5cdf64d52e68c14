import {
  Apgd,
  ApgdTargeted,
  ATTACK_NAMES,
  attackLabel,
  createAttack,
  CwPgd,
  Fgsm,
  PgdL1,
  PgdL2,
  PgdLinf,
  Rng,
  Square,
  type AttackSpec,
} from '@mat/core';

describe('createAttack', () => {
  const rng = new Rng(1);

  it('builds the class for each name × norm and fills documented defaults', () => {
    expect(ATTACK_NAMES).toEqual(['fgsm', 'pgd', 'cw', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'square']);
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

  it('builds the evaluation attacks with their documented defaults and labels', () => {
    const cw = createAttack({ name: 'cw', norm: 'l2', eps: 1 }, rng) as CwPgd;
    expect(cw).toBeInstanceOf(CwPgd);
    expect(cw.name).toBe('cw-l2');
    expect(cw.options).toMatchObject({ steps: 10, loss: 'cw', randomStart: true });
    const apgd = createAttack({ name: 'apgd-ce', norm: 'linf', eps: 0.1 }, rng) as Apgd;
    expect(apgd).toBeInstanceOf(Apgd);
    expect(apgd.loss).toBe('ce');
    expect(apgd.options).toMatchObject({ steps: 100, restarts: 1, rho: 0.75, randomStart: true });
    expect((createAttack({ name: 'apgd-dlr', norm: 'l1', eps: 5 }, rng) as Apgd).loss).toBe('dlr');
    const apgdT = createAttack({ name: 'apgd-t', norm: 'l2', eps: 1 }, rng) as ApgdTargeted;
    expect(apgdT).toBeInstanceOf(ApgdTargeted);
    expect(apgdT.targetClasses).toBe(9);
    const square = createAttack({ name: 'square', norm: 'l2', eps: 1 }, rng) as Square;
    expect(square).toBeInstanceOf(Square);
    expect([square.queries, square.pInit, square.restarts]).toEqual([1000, 0.8, 1]);
    expect(attackLabel({ name: 'pgd', steps: 20 })).toBe('PGD-20');
    expect(attackLabel({ name: 'pgd', steps: 20, restarts: 5 })).toBe('PGD-20×5');
    expect(attackLabel({ name: 'apgd-t' })).toBe('APGD-T');
    expect(attackLabel({ name: 'square', steps: 500 })).toBe('Square-500');
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['unknown name', { name: 'fab' }, /unknown attack 'fab'; known: fgsm, pgd, cw, apgd-ce/],
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
    [
      'square on l1',
      { name: 'square', norm: 'l1' },
      /square: not defined for norm 'l1'; it supports linf, l2/,
    ],
    ['square with stepSize', { name: 'square', stepSize: 0.1 }, /square: does not take option 'stepSize'/],
    ['apgd with a loss', { name: 'apgd-ce', loss: 'cw' }, /apgd-ce: does not take option 'loss'/],
    ['targets on pgd', { targetClasses: 3 }, /pgd: does not take option 'targetClasses' \(only apgd-t do\)/],
    ['apgd-t with 0 targets', { name: 'apgd-t', targetClasses: 0 }, /targetClasses must be an integer ≥ 1/],
    ['square pInit > 1', { name: 'square', pInit: 2 }, /pInit must be in \(0, 1\]/],
    ['apgd steps 0', { name: 'apgd-dlr', steps: 0 }, /apgd-dlr: steps must be an integer ≥ 1/],
  ];
  it.each(bad)('rejects %s', (_what, override, message) => {
    const spec = { name: 'pgd', norm: 'linf', eps: 0.1, ...override } as unknown as AttackSpec;
    expect(() => createAttack(spec, rng)).toThrow(message);
  });
});
