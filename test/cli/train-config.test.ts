import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseRunConfig } from '@mat/core';
import { flagsGivenOnce, resolveConfig, type TrainArgs } from '../../packages/cli/src/commands/train';
import { parseSetOverrides, readConfigFile } from '../../packages/cli/src/config-file';

describe('mat train: the config from flags, --set and --config', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-train-config-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => expect(({} as Record<string, unknown>).peers).toBeUndefined());

  const args = (a: Partial<TrainArgs>): TrainArgs => ({ 'log-format': 'text', ...a });
  const file = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it('--set __proto__.peers=3 is refused and pollutes nothing', () => {
    for (const item of [
      '__proto__.peers=3',
      'constructor.prototype.peers=3',
      'method.__proto__.tau=2',
      'a..b=1',
    ])
      expect(() => parseSetOverrides([item])).toThrow(
        new RegExp(`^--set ${item.replace(/[.$]/g, '\\$&')}: ".*" is not a config key$`),
      );
    expect(() => resolveConfig(args({ set: ['__proto__.peers=3'] }))).toThrow(/is not a config key/);
    expect(() => parseSetOverrides(['mp={"__proto__":{"x":1}}'])).toThrow(/__proto__ is not a config key/);
    expect(parseSetOverrides(['method.tau=2', 'data.dataset=mnist'])).toEqual({
      method: { tau: 2 },
      data: { dataset: 'mnist' },
    });
  });

  it('a config file {"__proto__":{"peers":3}} is refused, naming the file', () => {
    const f = file('proto.json', '{"__proto__":{"peers":3}}');
    expect(() => readConfigFile(f)).toThrow(`config file ${f}: __proto__ is not a config key`);
    expect(() => resolveConfig(args({ config: f }))).toThrow(
      `config file ${f}: __proto__ is not a config key`,
    );
  });

  it('a minimal config {"peers":1}, or no preset at all, gets the schema defaults', () => {
    const defaults = parseRunConfig({});
    expect(resolveConfig(args({ config: file('min.json', '{"peers":1}') })).config).toEqual({
      ...defaults,
      peers: 1,
    });
    expect(resolveConfig(args({})).config).toEqual(defaults);
    expect(resolveConfig(args({ peers: 3, eps: 0.2 })).config).toMatchObject({
      peers: 3,
      attack: { eps: 0.2 },
    });
  });

  it('a bad value is an error naming the file it comes from', () => {
    const f = file('bad.json', '{"peers":0}');
    expect(() => resolveConfig(args({ config: f, lr: -1 }))).toThrow(
      new RegExp(
        `peers: .* \\(from config file ${f.replace(/[.]/g, '\\.')}\\)\\n {2}optim\\.lr: .* \\(from flags\\)`,
      ),
    );
  });

  it('--preset constructor is the unknown-preset error listing the presets', () => {
    expect(() => resolveConfig(args({ preset: 'constructor' }))).toThrow(
      /^unknown preset "constructor"; known presets: quick, quick-mp, fmnist/,
    );
  });

  it('--name .., ., with separators or braces is refused', () => {
    for (const name of ['..', '.', 'a/b', '../x', '{x}'])
      expect(() => resolveConfig(args({ name }))).toThrow(/name: .* is not a valid run name/);
  });

  it('a flag given twice is an error naming the flag, not "received array"', () => {
    expect(() => flagsGivenOnce({ _: ['train'], peers: [2, 3], set: ['a=1', 'b=2'] })).toThrow(
      '--peers was given 2 times (2, 3); give it once',
    );
    // yargs's camelCase aliases are not reported twice; --set may be repeated.
    expect(() => flagsGivenOnce({ 'out-dir': ['a', 'b'], outDir: ['a', 'b'] })).toThrow(
      /^--out-dir was given/,
    );
    expect(flagsGivenOnce({ _: [], set: ['a=1', 'b=2'], peers: 2 })).toBe(true);
  });
});
