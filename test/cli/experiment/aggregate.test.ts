import type { EvalEvent, RunSummary } from '@mat/core';
import {
  BEST_EPOCH,
  BEST_ROBUST,
  CLEAN,
  formatStat,
  LAST_ROBUST,
  metricOrder,
  OVERFIT,
  parseExperimentSpec,
  planStudy,
  runValues,
  stat,
  studyMarkdown,
  buildStudyReport,
  studyRows,
} from '../../../packages/cli/src/experiment';
import type { RunData } from '../../../packages/cli/src/report/run-data';

const spec = parseExperimentSpec({
  name: 'agg',
  preset: 'quick',
  configurations: [
    { label: 'AT', set: { peers: 1 } },
    { label: 'MAT', set: { peers: 2 } },
  ],
  seeds: [1, 2],
});
const plan = planStudy(spec);

/** An evaluation at the end of `epoch` (1-based; metrics.jsonl counts epochs from 0). */
function evalEvent(epoch: number, final: boolean, peers: Array<[number, number]>): EvalEvent {
  return {
    step: epoch * 10,
    epoch: epoch - 1,
    final,
    peers: peers.map(([clean, robust], peer) => ({
      peer,
      count: 100,
      cleanAccuracy: clean,
      robustAccuracy: robust,
    })),
  };
}

function data(evals: EvalEvent[], summary: Partial<RunSummary> = {}): RunData {
  const final = evals.find((e) => e.final);
  return {
    runDir: 'x',
    config: { eval: { attack: { steps: 20, norm: 'linf', eps: 0.1 } } },
    steps: [],
    evals,
    summary: {
      metadata: {},
      runDir: 'x',
      stepsDone: 30,
      totalSteps: 30,
      stoppedEarly: false,
      seconds: 100,
      imagesPerSecond: 50,
      final,
      ...summary,
    },
    evalFiles: [],
  };
}

/** A 2-peer run over 3 epochs: robust accuracy best at epoch 2, the last evaluation the final one. */
const threeEpochMat = () =>
  data([
    evalEvent(1, false, [
      [0.6, 0.3],
      [0.7, 0.4],
    ]),
    evalEvent(2, false, [
      [0.7, 0.5],
      [0.8, 0.6],
    ]),
    evalEvent(3, true, [
      [0.8, 0.4],
      [0.9, 0.45],
    ]),
  ]);

describe('study statistics', () => {
  it('a run: the mean over its peers; best and last epoch from the evaluations during training', () => {
    const mat = plan.find((r) => r.name === 'MAT-s1')!;
    const v = runValues(mat, threeEpochMat());
    expect(v.failed).toBeUndefined();
    expect(v.values[CLEAN]).toBeCloseTo(0.85, 12);
    expect(v.values['PGD-20 linf 0.1 (training eval)']).toBeCloseTo(0.425, 12);
    expect(v.values[BEST_ROBUST]).toBeCloseTo(0.55, 12);
    expect(v.values[BEST_EPOCH]).toBe(2);
    expect(v.values[LAST_ROBUST]).toBeCloseTo(0.425, 12);
    expect(v.values[OVERFIT]).toBeCloseTo(0.125, 12);
    expect(v.curve.map(([e]) => e)).toEqual([1, 2, 3]);
  });

  it('a run at an evaluated epoch: the evaluation there, the curve up to it, the study file of that epoch', () => {
    const mat = plan.find((r) => r.name === 'MAT-s1')!;
    const run = threeEpochMat();
    const studyFile = (file: string, accuracy: number) => ({
      file,
      count: 100,
      seconds: 7,
      models: [0, 1].map((peer) => ({
        peer,
        cleanAccuracy: 0.5,
        results: [{ label: 'APGD-CE', norm: 'linf', eps: 0.1, scale: 1, accuracy }],
        unions: [],
      })),
    });
    run.evalFiles = [studyFile('eval-study-epoch-2.json', 0.25), studyFile('eval-study.json', 0.35)] as never;
    const v = runValues(mat, run, undefined, 2);
    expect(v).toMatchObject({ group: 'MAT @ epoch 2', epoch: 2 });
    expect(v.values[CLEAN]).toBeCloseTo(0.75, 12);
    expect(v.values['PGD-20 linf 0.1 (training eval)']).toBeCloseTo(0.55, 12);
    expect(v.values['APGD-CE linf 0.1']).toBe(0.25);
    expect(v.curve.map(([e]) => e)).toEqual([1, 2]);
    expect(v.values[BEST_EPOCH]).toBe(2);
    expect(v.values['train s']).toBeUndefined(); // the run's time belongs to its end
    expect(runValues(mat, run).values['APGD-CE linf 0.1']).toBe(0.35);
    expect(runValues(mat, run, undefined, 5).failed).toBe('no evaluation at epoch 5');
    // The evaluation during training at epoch 2 lost (a stop during it): the study's evaluation stands, noted.
    const cut = { ...run, evals: run.evals.filter((e) => e.epoch !== 1) };
    const partial = runValues(mat, cut, undefined, 2);
    expect(partial.failed).toBeUndefined();
    expect(partial.values[CLEAN]).toBe(0.5); // mat eval's clean accuracy
    expect(partial.values['APGD-CE linf 0.1']).toBe(0.25);
    expect(partial.values['PGD-20 linf 0.1 (training eval)']).toBeUndefined();
    expect(partial.notes).toEqual(['MAT-s1: no evaluation during training at epoch 2; clean from mat eval']);
    // Rows: per configuration and epoch, in the order of the values.
    const rows = studyRows(plan, [v, runValues(mat, run)]);
    expect(rows.map((r) => [r.group, r.epoch, r.label])).toEqual([
      ['MAT @ epoch 2', 2, 'MAT'],
      ['MAT', undefined, 'MAT'],
    ]);
  });

  it('a failed or missing run is named, never counted as zero', () => {
    const at = plan.find((r) => r.name === 'AT-s1')!;
    expect(runValues(at, undefined).failed).toBe('not run yet');
    expect(
      runValues(at, data([evalEvent(1, true, [[0.5, 0.2]])], { error: 'peer 0 diverged at step 3' })).failed,
    ).toBe('peer 0 diverged at step 3');
    expect(runValues(at, data([evalEvent(1, false, [[0.5, 0.2]])], { final: undefined })).failed).toBe(
      'no final evaluation',
    );
    // Stopped short (Ctrl-C, a batch): the evaluation at the stop is not the end of the training.
    const stopped = data([evalEvent(1, true, [[0.5, 0.2]])], {
      stepsDone: 12,
      totalSteps: 30,
      stoppedEarly: true,
    });
    expect(runValues(at, stopped).failed).toBe('stopped at step 12 of 30, not done yet');
    expect(runValues(at, stopped, undefined, 1).failed).toBeUndefined();
  });

  it('mean and sample standard deviation, checked by hand', () => {
    const s = stat([0.5, 0.7]);
    expect(s.mean).toBeCloseTo(0.6, 12);
    expect(s.sd).toBeCloseTo(Math.SQRT2 * 0.1, 12); // sqrt(((-0.1)^2 + 0.1^2) / 1)
    expect(stat([0.4]).sd).toBeUndefined();
    expect(formatStat(CLEAN, s)).toBe('60.0 ± 14.1');
    expect(formatStat(CLEAN, undefined)).toBe('–');
  });

  it('rows per configuration, over the seeds that ended well; the table names what is missing', () => {
    const values = [
      runValues(plan[0], data([evalEvent(1, true, [[0.5, 0.2]])])), // AT-s1
      runValues(plan[1], data([evalEvent(1, true, [[0.7, 0.4]])])), // AT-s2
      runValues(
        plan[2],
        data([
          evalEvent(1, true, [
            [0.8, 0.5],
            [0.8, 0.5],
          ]),
        ]),
      ), // MAT-s1
      runValues(plan[3], undefined, 'mat train exited with 1'), // MAT-s2
    ];
    const rows = studyRows(plan, values);
    expect(rows.map((r) => [r.group, r.seeds, r.missing])).toEqual([
      ['AT', [1, 2], []],
      ['MAT', [1], [{ name: 'MAT-s2', reason: 'mat train exited with 1' }]],
    ]);
    expect(rows[0].stats[CLEAN].mean).toBeCloseTo(0.6, 12);
    expect(rows[1].stats[CLEAN]).toMatchObject({ mean: 0.8, n: 1, sd: undefined });
    expect(metricOrder(rows)[0]).toBe(CLEAN);
    const md = studyMarkdown(buildStudyReport(spec, rows, values, new Date(0)));
    expect(md).toContain('| AT | 2 | 60.0 ± 14.1 |');
    expect(md).toContain('| MAT | 1 (+1 missing) | 80.0 |');
    expect(md).toContain('- MAT-s2: mat train exited with 1');
  });

  it('a metric only some seeds have is over those seeds, and the table says of how many', () => {
    const withTraining = runValues(plan[0], data([evalEvent(1, true, [[0.5, 0.2]])])); // AT-s1
    // AT-s2 lost its evaluation during training (stopped during it): no training-eval value, no curve.
    const lost = runValues(plan[1], data([evalEvent(1, true, [[0.7, 0.4]])]));
    const key = 'PGD-20 linf 0.1 (training eval)';
    expect(withTraining.values[key]).toBeCloseTo(0.2, 12);
    delete lost.values[key];
    const [row] = studyRows(plan.slice(0, 2), [withTraining, lost]);
    expect(row.seeds).toEqual([1, 2]);
    expect(row.stats[key]).toMatchObject({ mean: 0.2, n: 1 });
    expect(row.stats[CLEAN]).toMatchObject({ n: 2 });
    expect(formatStat(key, row.stats[key], 2)).toBe('20.0 (1 of 2)');
    expect(formatStat(CLEAN, row.stats[CLEAN], 2)).toBe('60.0 ± 14.1');
  });
});
