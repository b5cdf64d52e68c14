import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '@mat/core';
import {
  gridPoints,
  parseExperimentSpec,
  planStudy,
  readExperimentSpec,
} from '../../../packages/cli/src/experiment';

const minimal = {
  name: 'study',
  preset: 'quick',
  configurations: [
    { label: 'AT', set: { peers: 1 } },
    { label: 'MAT', set: { peers: 2, 'method.lambdaOwn': 0.5 } },
  ],
};

describe('experiment spec', () => {
  it('fills defaults', () => {
    const spec = parseExperimentSpec(minimal);
    expect(spec).toMatchObject({ outDir: 'experiments', seeds: [0], grid: {}, runtime: 'auto', base: {} });
    expect(spec.evaluation).toBeUndefined();
  });

  it.each([
    ['an unknown key', { ...minimal, seed: 1 }, /\(root\).*seed/s],
    ['no configuration', { ...minimal, configurations: [] }, /configurations/],
    [
      'a label used twice',
      { ...minimal, configurations: [{ label: 'A' }, { label: 'A' }] },
      /label A is used twice/,
    ],
    ['a label with a dot', { ...minimal, configurations: [{ label: 'a.b' }] }, /not a valid label/],
    ['seed in the grid', { ...minimal, grid: { seed: [1, 2] } }, /grid.seed: seed is set by the experiment/],
    ['a key path that is no path', { ...minimal, grid: { 'a..b': [1] } }, /not a config key path/],
    ['an empty value list', { ...minimal, grid: { 'train.epochs': [] } }, /grid.train.epochs/],
    ['an unknown attack', { ...minimal, evaluation: { attacks: ['nope'] } }, /evaluation.attacks.0/],
    ['a bad study name', { ...minimal, name: '../x' }, /not a valid run name/],
  ])('refuses %s, naming it', (_what, input, message) => {
    expect(() => parseExperimentSpec(input)).toThrow(ConfigError);
    expect(() => parseExperimentSpec(input)).toThrow(message);
  });

  it('refuses prototype keys anywhere', () => {
    const hostile = JSON.parse(
      '{"name":"s","configurations":[{"label":"A","set":{"__proto__":{"peers":3}}}]}',
    );
    expect(() => parseExperimentSpec(hostile)).toThrow(/__proto__/);
    expect(({} as Record<string, unknown>).peers).toBeUndefined();
  });
});

describe('mat experiment --set: overrides of the spec file', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mat-spec-')), 'paper.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ ...minimal, base: { backend: 'tensorflow', train: { epochs: 200 } }, seeds: [1, 2] }),
  );

  it('sets keys of the spec before it is validated, leaving the rest as the file has it', () => {
    const spec = readExperimentSpec(file, [
      'base.backend=native',
      'base.data.trainSubset=256',
      'seeds=[1]',
      'outDir=/tmp/smoke',
    ]);
    expect(spec.base).toEqual({ backend: 'native', train: { epochs: 200 }, data: { trainSubset: 256 } });
    expect(spec.seeds).toEqual([1]);
    expect(spec.outDir).toBe('/tmp/smoke');
    expect(spec.configurations).toEqual(readExperimentSpec(file).configurations);
    expect(planStudy(spec).map((r) => [r.name, r.config.backend, r.config.data.trainSubset])).toEqual([
      ['AT-s1', 'native', 256],
      ['MAT-s1', 'native', 256],
    ]);
  });

  it('refuses an override the spec does not allow, naming the file, the flag and the key', () => {
    expect(() => readExperimentSpec(file, ['seedz=[1]'])).toThrow(
      /experiment spec paper.json with --set:\n {2}\(root\): .*seedz/s,
    );
    expect(() => readExperimentSpec(file, ['seeds=[-1]'])).toThrow(/seeds.0/);
    expect(() => readExperimentSpec(file, ['seeds'])).toThrow(/--set seeds: expected key.path=value/);
    expect(() => readExperimentSpec(file, ['base.__proto__.x=1'])).toThrow(/"__proto__" is not a config key/);
    expect(() => planStudy(readExperimentSpec(file, ['base.optim.lr=-1']))).toThrow(/run AT-s1/);
  });
});

describe('planStudy', () => {
  it('crosses the grid in the order given', () => {
    expect(gridPoints({ a: [1, 2], b: ['x', 'y'] })).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
    ]);
    expect(gridPoints({})).toEqual([{}]);
  });

  it('gives every run the layers in order: preset, base, configuration, grid point, then the study', () => {
    const spec = parseExperimentSpec({
      ...minimal,
      outDir: 'out',
      base: { optim: { lr: 0.02 }, method: { lambdaOwn: 2 } },
      grid: { 'train.epochs': [1, 3], 'method.tau': [0.5] },
      seeds: [4, 5],
    });
    const runs = planStudy(spec);
    expect(runs.map((r) => r.name)).toEqual([
      'AT-epochs1-tau0p5-s4',
      'AT-epochs1-tau0p5-s5',
      'AT-epochs3-tau0p5-s4',
      'AT-epochs3-tau0p5-s5',
      'MAT-epochs1-tau0p5-s4',
      'MAT-epochs1-tau0p5-s5',
      'MAT-epochs3-tau0p5-s4',
      'MAT-epochs3-tau0p5-s5',
    ]);
    const mat = runs.find((r) => r.name === 'MAT-epochs3-tau0p5-s5')!;
    expect(mat.group).toBe('MAT-epochs3-tau0p5');
    expect(mat.config).toMatchObject({
      name: 'MAT-epochs3-tau0p5-s5',
      seed: 5,
      outDir: 'out/study/runs',
      peers: 2,
      optim: { lr: 0.02 }, // base
      method: { lambdaOwn: 0.5, tau: 0.5 }, // the configuration over the base; the grid
      train: { epochs: 3 },
    });
    expect(runs.find((r) => r.name === 'AT-epochs1-tau0p5-s4')!.config).toMatchObject({
      peers: 1,
      method: { lambdaOwn: 2 },
    });
  });

  it('names a run by the type of an object value', () => {
    const spec = parseExperimentSpec({
      name: 's',
      configurations: [{ label: 'AT', set: { peers: 1 } }],
      grid: { 'optim.schedule': [{ type: 'constant' }, { type: 'piecewise', milestones: [0.5] }] },
    });
    const runs = planStudy(spec);
    expect(runs.map((r) => r.name)).toEqual(['AT-scheduleconstant-s0', 'AT-schedulepiecewise-s0']);
    expect(runs[1].config.optim.schedule).toEqual({ type: 'piecewise', milestones: [0.5], gamma: 0.1 });
  });

  it('names the run whose config is invalid', () => {
    const spec = parseExperimentSpec({ ...minimal, grid: { 'optim.lr': [0.1, -1] } });
    expect(() => planStudy(spec, 'spec.json')).toThrow(/run AT-lr-1-s0 of spec.json: .*optim.lr/s);
  });

  it("evaluation.epochs: every run keeps those epochs' checkpoints; an epoch not before the last is refused", () => {
    const spec = parseExperimentSpec({
      ...minimal,
      grid: { 'train.epochs': [5] },
      evaluation: { attacks: ['pgd'], epochs: [1, 3], targets: 3 },
    });
    expect(planStudy(spec).map((r) => r.config.train.keepEpochs)).toEqual([
      [1, 3],
      [1, 3],
    ]);
    const late = parseExperimentSpec({ ...spec, grid: { 'train.epochs': [3] } });
    expect(() => planStudy(late, 'spec.json')).toThrow(
      /run AT-epochs3-s0 of spec.json: evaluation.epochs holds 3, not before the run's last epoch/,
    );
    expect(planStudy(parseExperimentSpec(minimal))[0].config.train.keepEpochs).toBeUndefined();
  });

  it('refuses two runs with one name', () => {
    const spec = parseExperimentSpec({ ...minimal, grid: { 'data.dataDir': ['a/b', 'a_b'] } });
    expect(() => planStudy(spec, 'spec.json')).toThrow(/two runs would be named AT-dataDira_b-s0/);
  });
});
