import { parseRunConfig } from '@mat/core';
import { suiteFromArgs } from '../../packages/cli/src/commands/eval';
import { parseAttackNames, parseEps, parseScales } from '../../packages/cli/src/eval/parse-args';

const base = { run: 'runs/x', ensemble: true, 'log-format': 'text' as const };

describe('mat eval flags', () => {
  const config = parseRunConfig({
    data: { dataset: 'fashion-mnist' },
    eval: { attack: { norm: 'linf', eps: 0.2, steps: 7 } },
  });

  it('parses attack lists, radii per norm (also as fractions) and scales', () => {
    expect(parseAttackNames('pgd, apgd-ce,square')).toEqual(['pgd', 'apgd-ce', 'square']);
    expect(parseEps('linf=8/255,l2=0.5', [])).toEqual({ linf: 8 / 255, l2: 0.5 });
    expect(parseEps('0.3', ['linf', 'l1'])).toEqual({ linf: 0.3, l1: 0.3 });
    expect(parseScales('0.5,1,2')).toEqual([0.5, 1, 2]);
    expect(() => parseAttackNames('pgd,,cw')).toThrow(/empty item/);
    expect(() => parseEps('linf=-1', [])).toThrow(/--eps: '-1' is not a number > 0/);
    expect(() => parseEps('linf:0.1,l2=1', [])).toThrow(/expected norm=value items/);
    expect(() => parseScales('1,x')).toThrow(/--eps-scales: 'x' is not a number > 0/);
  });

  it("defaults to the run's own evaluation attack", () => {
    expect(suiteFromArgs(base, config)).toEqual({
      attacks: [{ name: 'pgd', restarts: 1, steps: 7 }],
      eps: { linf: 0.2 },
      scales: [1],
    });
  });

  it('takes the dataset defaults for norms given without radii, and flags for the rest', () => {
    const suite = suiteFromArgs(
      {
        ...base,
        attacks: 'pgd,apgd-t,square,fgsm',
        norms: 'linf,l2,l1',
        'apgd-steps': 50,
        queries: 300,
        targets: 3,
      },
      config,
    );
    expect(suite.eps).toEqual({ linf: 0.1, l2: 1.5, l1: 10 });
    expect(suite.attacks).toEqual([
      { name: 'pgd', restarts: 1, steps: 7 },
      { name: 'apgd-t', restarts: 1, steps: 50, targetClasses: 3 },
      { name: 'square', restarts: 1, steps: 300 },
      { name: 'fgsm', restarts: undefined },
    ]);
    expect(suiteFromArgs({ ...base, eps: 'l2=2' }, config).eps).toEqual({ l2: 2 });
    expect(suiteFromArgs({ ...base, norms: 'l2', eps: '3' }, config).eps).toEqual({ l2: 3 });
  });
});
