import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkpointDigest, findLatestCheckpoint, type RunSummary } from '@mat/core';
import { assertBuilt, CLI } from '../distributed/helpers';

// `mat experiment` end to end on the built CLI: a tiny AT vs MAT study over 2 seeds, trained, evaluated,
// reported; run again it does nothing new; a run of another config in its way stops it before anything
// starts; a diverging configuration is a failed run of the study, named in the report.

function mat(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 15 * 60000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const tiny = {
  backend: 'native',
  data: { dataset: 'fashion-mnist', trainSubset: 64, testSubset: 40 },
  attack: { eps: 0.1, stepSize: 0.05, steps: 1 },
  method: { distillWarmupSteps: 0 },
  optim: { lr: 0.05 },
  train: { epochs: 2, batchSize: 32 },
  eval: { batchSize: 40, attack: { eps: 0.1, stepSize: 0.05, steps: 2 } },
};

describe('mat experiment', () => {
  let dir: string;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-experiment-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(
    'trains, evaluates and reports a study; run again, it redoes nothing',
    () => {
      const spec = {
        name: 'tiny',
        outDir: 'out',
        preset: 'quick',
        base: tiny,
        configurations: [
          { label: 'AT', set: { peers: 1 } },
          { label: 'MAT', set: { peers: 2 } },
        ],
        seeds: [1, 2],
        evaluation: {
          attacks: ['pgd', 'apgd-ce'],
          norms: ['linf'],
          eps: { linf: 0.1 },
          steps: 3,
          apgdSteps: 3,
          testSubset: 40,
        },
        runtime: 'in-process',
      };
      fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
      const first = mat(['experiment', 'spec.json'], dir);
      expect({ code: first.code, out: first.code === 0 ? '' : first.out }).toEqual({ code: 0, out: '' });
      expect(first.out).toMatch(/\[4\/4\] MAT-s2: training/);

      const study = path.join(dir, 'out', 'tiny');
      const report = JSON.parse(fs.readFileSync(path.join(study, 'study.json'), 'utf8'));
      expect(report.rows.map((r: { group: string; seeds: number[] }) => [r.group, r.seeds])).toEqual([
        ['AT', [1, 2]],
        ['MAT', [1, 2]],
      ]);
      // The table's numbers are the runs' own: the clean accuracy of MAT, recomputed from the summaries.
      const clean = [1, 2].map((seed) => {
        const s = JSON.parse(
          fs.readFileSync(path.join(study, 'runs', `MAT-s${seed}`, 'summary.json'), 'utf8'),
        ) as RunSummary;
        const peers = s.final!.peers;
        return peers.reduce((a, p) => a + p.cleanAccuracy, 0) / peers.length;
      });
      const mat2 = report.rows[1].stats;
      expect(mat2.clean.mean).toBeCloseTo((clean[0] + clean[1]) / 2, 12);
      expect(mat2.clean.sd).toBeCloseTo(Math.abs(clean[0] - clean[1]) / Math.SQRT2, 12);
      // The study's evaluation went in, per attack and their union.
      expect(Object.keys(mat2)).toEqual(
        expect.arrayContaining([
          'PGD-3 linf 0.1',
          'APGD-CE linf 0.1',
          'all attacks',
          'best-epoch robust',
          'img/s',
        ]),
      );
      const md = fs.readFileSync(path.join(study, 'study.md'), 'utf8');
      expect(md).toMatch(/\| MAT \| 2 \| \d+\.\d ± \d+\.\d \|/);
      expect(fs.readFileSync(path.join(study, 'study.html'), 'utf8')).toContain('data-chart');

      const checkpoints = fs.readdirSync(path.join(study, 'runs', 'AT-s1', 'checkpoints'));
      const again = mat(['experiment', 'spec.json'], dir);
      expect(again.code).toBe(0);
      expect(again.out).not.toMatch(/training|resuming|evaluating/);
      expect(again.out.match(/: done/g)).toHaveLength(4);
      expect(fs.readdirSync(path.join(study, 'runs', 'AT-s1', 'checkpoints'))).toEqual(checkpoints);

      // The weights on disk are not those its evaluation measured (as after training again by other code):
      // the study evaluates them again instead of reporting the old numbers for them.
      const evalFile = path.join(study, 'runs', 'MAT-s1', 'eval-study.json');
      const latest = findLatestCheckpoint(path.join(study, 'runs', 'MAT-s1'));
      const recorded = JSON.parse(fs.readFileSync(evalFile, 'utf8'));
      expect(recorded.weightsSha256).toBe(checkpointDigest(latest!.dir));
      fs.writeFileSync(evalFile, JSON.stringify({ ...recorded, weightsSha256: '0'.repeat(64) }));
      const stale = mat(['experiment', 'spec.json'], dir);
      expect({ code: stale.code, out: stale.code === 0 ? '' : stale.out }).toEqual({ code: 0, out: '' });
      expect(stale.out).toMatch(/MAT-s1: eval-study\.json measured other weights \(sha256 0{12}…\)/);
      expect(stale.out.match(/: evaluating the final checkpoint/g)).toHaveLength(1);
      expect(stale.out).not.toMatch(/training|resuming/);
      expect(JSON.parse(fs.readFileSync(evalFile, 'utf8')).weightsSha256).toBe(checkpointDigest(latest!.dir));
      const aside = path.join(study, 'runs', 'MAT-s1', 'superseded-eval-study.json');
      expect(JSON.parse(fs.readFileSync(aside, 'utf8')).weightsSha256).toBe('0'.repeat(64));

      // An interrupted study: the last run lost its summary and evaluation (as if killed at its end).
      fs.rmSync(path.join(study, 'runs', 'MAT-s2', 'summary.json'));
      fs.rmSync(path.join(study, 'runs', 'MAT-s2', 'eval-study.json'));
      const resumed = mat(['experiment', 'spec.json'], dir);
      expect({ code: resumed.code, out: resumed.code === 0 ? '' : resumed.out }).toEqual({
        code: 0,
        out: '',
      });
      expect(resumed.out).toMatch(/MAT-s2: resuming/);
      expect(resumed.out).toMatch(/MAT-s2: evaluating/);
      const after = JSON.parse(fs.readFileSync(path.join(study, 'study.json'), 'utf8'));
      expect(after.rows[1].stats.clean.mean).toBeCloseTo(mat2.clean.mean, 12);

      // A run of another config where one of the study's runs goes: nothing starts, the directory is named.
      const config = path.join(study, 'runs', 'AT-s1', 'config.json');
      const stored = JSON.parse(fs.readFileSync(config, 'utf8'));
      fs.writeFileSync(config, JSON.stringify({ ...stored, optim: { ...stored.optim, lr: 0.5 } }));
      const conflict = mat(['experiment', 'spec.json'], dir);
      expect(conflict.code).not.toBe(0);
      expect(conflict.out).toMatch(/runs\/AT-s1 holds a run of a different config/);
      expect(conflict.out).not.toMatch(/training/);
    },
    30 * 60000,
  );

  it(
    'a batch (--only, --jobs 2) with evaluation.epochs: epoch e of a constant-LR run is the e-epoch run',
    () => {
      const base = {
        ...tiny,
        train: { epochs: 3, batchSize: 32 },
        optim: { lr: 0.05, schedule: { type: 'constant' } },
      };
      const spec = {
        name: 'epochs',
        outDir: 'out',
        base,
        configurations: [
          { label: 'AT', set: { peers: 1 } },
          { label: 'MAT', set: { peers: 2 } },
        ],
        seeds: [1, 2],
        evaluation: {
          attacks: ['pgd'],
          norms: ['linf'],
          eps: { linf: 0.1 },
          steps: 3,
          testSubset: 40,
          epochs: [1],
        },
        runtime: 'auto',
      };
      fs.writeFileSync(path.join(dir, 'epochs.json'), JSON.stringify(spec));
      const r = mat(['experiment', 'epochs.json', '--jobs', '2', '--only', '*-s1'], dir);
      expect({ code: r.code, out: r.code === 0 ? '' : r.out }).toEqual({ code: 0, out: '' });
      expect(r.out).toMatch(/AT-s1: evaluating epoch 1/);
      expect(r.out).not.toMatch(/-s2: /);
      const study = path.join(dir, 'out', 'epochs');
      const runDir = path.join(study, 'runs', 'AT-s1');
      expect(fs.existsSync(path.join(runDir, 'eval-study-epoch-1.json'))).toBe(true);
      const report = JSON.parse(fs.readFileSync(path.join(study, 'study.json'), 'utf8'));
      expect(
        report.rows.map((row: { group: string; seeds: number[]; missing: unknown[] }) => [
          row.group,
          row.seeds,
          row.missing.length,
        ]),
      ).toEqual([
        ['AT @ epoch 1', [1], 1],
        ['AT', [1], 1],
        ['MAT @ epoch 1', [1], 1],
        ['MAT', [1], 1],
      ]);
      expect(fs.readFileSync(path.join(study, 'study.md'), 'utf8')).toMatch(/- AT-s2: not run yet/);

      // The kept checkpoint of epoch 1 (2 steps per epoch) holds the weights of a 1-epoch run of the same config.
      const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
      const oneEpoch = { ...config, name: 'one-epoch', outDir: dir, train: { ...config.train, epochs: 1 } };
      delete oneEpoch.train.keepEpochs;
      fs.writeFileSync(path.join(dir, 'one-epoch.json'), JSON.stringify(oneEpoch));
      const one = mat(['train', '--config', 'one-epoch.json'], dir);
      expect({ code: one.code, out: one.code === 0 ? '' : one.out }).toEqual({ code: 0, out: '' });
      const weights = (run: string, step: number) =>
        fs.readFileSync(
          path.join(run, 'checkpoints', `step-${String(step).padStart(8, '0')}`, 'peer-0.safetensors'),
        );
      expect(weights(runDir, 2).equals(weights(path.join(dir, 'one-epoch'), 2))).toBe(true);
      expect(fs.readdirSync(path.join(runDir, 'checkpoints'))).toContain('step-00000002');
    },
    20 * 60000,
  );

  it(
    'a diverging configuration is a failed run, named in the report, and the exit code says so',
    () => {
      const spec = {
        name: 'diverge',
        outDir: 'out',
        preset: 'quick',
        base: tiny,
        configurations: [{ label: 'MAT', set: { peers: 2, 'optim.lr': 1e6 } }],
        seeds: [3],
        runtime: 'in-process',
      };
      fs.writeFileSync(path.join(dir, 'diverge.json'), JSON.stringify(spec));
      const r = mat(['experiment', 'diverge.json'], dir);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/MAT-s3: failed: .*diverged/);
      const md = fs.readFileSync(path.join(dir, 'out', 'diverge', 'study.md'), 'utf8');
      expect(md).toMatch(/\| MAT \| 0 \(\+1 missing\) \|/);
      expect(md).toMatch(/- MAT-s3: .*diverged/);
    },
    15 * 60000,
  );
});
