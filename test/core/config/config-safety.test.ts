import {
  checkRunName,
  ConfigError,
  mergeLayers,
  parseRunConfig,
  PRESET_NAMES,
  resolveRunConfig,
} from '@mat/core';

describe('run config: hostile and minimal input', () => {
  afterEach(() => {
    // Nothing here may ever reach Object.prototype.
    expect(({} as Record<string, unknown>).peers).toBeUndefined();
  });

  it('a config with its own __proto__ key (as JSON.parse makes it) is refused, naming the file and the key', () => {
    const file = JSON.parse('{"__proto__":{"peers":3}}');
    expect(() => resolveRunConfig({ file, fileName: 'evil.json' })).toThrow(
      new ConfigError('config file evil.json: __proto__ is not a config key'),
    );
    expect(() => resolveRunConfig({ file: JSON.parse('{"method":{"constructor":{"tau":3}}}') })).toThrow(
      'config file: method.constructor is not a config key',
    );
    expect(() => mergeLayers(JSON.parse('{"data":{"__proto__":{"crop":4}}}'))).toThrow(
      '__proto__ is not a config key',
    );
    expect(() => parseRunConfig(JSON.parse('{"__proto__":{"peers":3}}'))).toThrow(/__proto__/);
  });

  it('--preset constructor (or any inherited name) is an unknown preset, listing the presets', () => {
    for (const preset of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      expect(() => resolveRunConfig({ preset })).toThrow(
        `unknown preset "${preset}"; known presets: ${PRESET_NAMES.join(', ')}`,
      );
  });

  it('a minimal config, or none, gets the schema defaults; flags not given set nothing', () => {
    const defaults = parseRunConfig({});
    expect(resolveRunConfig({})).toEqual(defaults);
    expect(resolveRunConfig({ file: { peers: 1 } })).toEqual({ ...defaults, peers: 1 });
    // What `mat train` passes for flags that were not given: objects of undefined values.
    const flags = { attack: { eps: undefined, norm: undefined }, train: { epochs: undefined }, peers: 1 };
    expect(resolveRunConfig({ overrides: flags })).toEqual({ ...defaults, peers: 1 });
    // An attack given in part keeps the default radius.
    expect(resolveRunConfig({ file: { attack: { steps: 5 } } }).attack).toMatchObject({ eps: 0.1, steps: 5 });
    expect(resolveRunConfig({ file: { eval: { attack: { norm: 'l2' } } } }).eval.attack.eps).toBe(0.1);
    // MAT-MP's perturbation types name their own radius.
    expect(() =>
      parseRunConfig({ peers: 1, mp: { strategy: 'average', attacks: [{ norm: 'l2' }] } }),
    ).toThrow(/mp\.attacks\.0\.eps/);
  });

  it('errors name the layer each bad value comes from', () => {
    expect(() =>
      resolveRunConfig({
        preset: 'quick',
        file: { peers: 0 },
        fileName: 'run.json',
        overrides: { optim: { lr: -1 } },
      }),
    ).toThrow(
      /^invalid config \(preset quick \+ config file run\.json \+ flags\):\n {2}peers: .* \(from config file run\.json\)\n {2}optim\.lr: .* \(from flags\)$/,
    );
    expect(() => resolveRunConfig({ file: [1, 2], fileName: 'list.json' })).toThrow(
      'config file list.json: a run config must be a JSON object',
    );
  });

  it('run names and ids: one path component, never "." or "..", no separators or braces', () => {
    for (const name of ['quick', 'cifar10-paper', 'run_2.b', 'A', 'x'.repeat(128)])
      expect(checkRunName(name)).toBe(name);
    for (const name of [
      '',
      '.',
      '..',
      '.hidden',
      '-x',
      'a/b',
      '..\\x',
      'a b',
      '{run}',
      'x{1}',
      'x'.repeat(129),
    ]) {
      expect(() => checkRunName(name, '--run-id')).toThrow(
        `--run-id ${JSON.stringify(name)} is not a valid run name: use 1 to 128 letters, digits`,
      );
      expect(() => parseRunConfig({ name })).toThrow(/name: .* is not a valid run name/);
    }
  });
});
