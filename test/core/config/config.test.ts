import {
  createAttack,
  describeAttack,
  parseRunConfig,
  PRESET_NAMES,
  resolveRunConfig,
  Rng,
  trainingAttackSpec,
} from '@mat/core';

describe('run config', () => {
  it('fills defaults', () => {
    const c = parseRunConfig({});
    expect(c.peers).toBe(2);
    expect(c.method).toEqual({
      base: 'madry',
      tradesBeta: 6,
      lambdaOwn: 1,
      lambdaPeer: 1,
      tau: 1,
      distillWarmupSteps: 0,
    });
    expect(c.attack.steps).toBe(10);
    expect(c.optim.schedule.type).toBe('piecewise');
  });

  it('every preset is valid and layers override in order', () => {
    for (const preset of PRESET_NAMES) expect(() => resolveRunConfig({ preset })).not.toThrow();
    const c = resolveRunConfig({
      preset: 'quick',
      file: { peers: 3, method: { tau: 2 } },
      overrides: { peers: 4 },
    });
    expect(c.peers).toBe(4);
    expect(c.method.tau).toBe(2);
    expect(c.method.lambdaOwn).toBe(1);
    expect(c.data.trainSubset).toBe(10000);
  });

  it('names every bad value and unknown key', () => {
    expect(() =>
      parseRunConfig({ optim: { lr: -1 }, peers: 0, attack: { eps: 0.1, stepSize: 0.1, stpes: 3 } }),
    ).toThrow(/optim\.lr[\s\S]*peers|peers[\s\S]*optim\.lr/);
    let message = '';
    try {
      parseRunConfig({ attack: { eps: 0.1, stepSize: 0.1, stpes: 3 }, modle: {} });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/stpes/);
    expect(message).toMatch(/modle/);
    expect(() => resolveRunConfig({ preset: 'nope' })).toThrow(/unknown preset "nope"; known presets: quick/);
    expect(() => parseRunConfig({ name: 'a/b' })).toThrow(/name/);
    expect(() => parseRunConfig({ peers: 3, method: { peerSample: 3 } })).toThrow(
      /method\.peerSample[\s\S]*peerSample 3 is more than the 2 other peer/,
    );
    expect(() => parseRunConfig({ peers: 3, method: { peerSample: 0 } })).toThrow(/method\.peerSample/);
    expect(parseRunConfig({ peers: 3, method: { peerSample: 2 } }).method.peerSample).toBe(2);
  });

  it('an FGSM attack config becomes a valid attack (no PGD step defaults leak into it)', () => {
    const c = parseRunConfig({ attack: { name: 'fgsm', eps: 0.1 }, method: { base: 'trades' } });
    const spec = trainingAttackSpec(c.attack, c.method.base);
    expect(spec.loss).toBe('trades-kl');
    expect(createAttack(spec, new Rng(1)).name).toMatch(/fgsm/i);
    expect(describeAttack(c.attack)).toBe('FGSM linf eps 0.1');
    expect(describeAttack(parseRunConfig({}).attack)).toBe('PGD-10 linf eps 0.1');
  });
});
