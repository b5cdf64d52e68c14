import type { EvalEvent } from '@mat/core';
import type { RunData } from '../report/run-data';
import type { PlannedRun } from './plan';
import { studyEvalFileName, trainingDone } from './run-state';

/**
 * A study's numbers: one value per run and metric (a run's value is the mean over its peers: the peers of a
 * MAT run are trained symmetrically), then mean ± spread over the seeds of each configuration. Pure: the
 * inputs are the runs' files as `mat report` reads them (loadRunData).
 */

/** One run's value of each metric; a metric the run does not have is absent (never 0, never NaN). */
export interface RunValues {
  name: string;
  group: string;
  seed: number;
  /** The values are of the checkpoint at the end of this epoch (evaluation.epochs), not of the run's end. */
  epoch?: number;
  /** The run did not end well: its reason. Its values are left out of the means. */
  failed?: string;
  /** What its values lack, e.g. an evaluation during training cut short (listed under the table). */
  notes?: string[];
  values: Record<string, number>;
  /** Mean robust accuracy of the peers at each evaluation during training: [epoch (1-based), accuracy]. */
  curve: Array<[number, number]>;
}

export interface Stat {
  mean: number;
  /** Sample standard deviation (n − 1); undefined with one run. */
  sd?: number;
  min: number;
  max: number;
  n: number;
}

export interface StudyRow {
  group: string;
  label: string;
  /** A row of the checkpoints at the end of this epoch (evaluation.epochs). */
  epoch?: number;
  point: Record<string, unknown>;
  /** Seeds whose runs are in the statistics. */
  seeds: number[];
  /** Runs of this configuration that failed or are missing, with the reason. */
  missing: Array<{ name: string; reason: string }>;
  stats: Record<string, Stat>;
}

export const CLEAN = 'clean';
export const BEST_ROBUST = 'best-epoch robust';
export const BEST_EPOCH = 'best epoch';
export const LAST_ROBUST = 'last-epoch robust';
export const OVERFIT = 'best − last';
export const TRAIN_SECONDS = 'train s';
export const EVAL_SECONDS = 'eval s';
export const IMAGES_PER_SECOND = 'img/s';

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mean robust accuracy of the peers in one evaluation event. */
function peersRobust(e: EvalEvent): number {
  return mean(e.peers.map((p) => p.robustAccuracy));
}

/** The row of a configuration's checkpoints at the end of `epoch`, e.g. "MAT-epochs20 @ epoch 3". */
export function epochGroup(group: string, epoch: number): string {
  return `${group} @ epoch ${epoch}`;
}

/**
 * One run's values from its files: of its end, or with `atEpoch` of its checkpoint at the end of that epoch
 * (the evaluation during training there, the study's eval-study-epoch-<e>.json, the curve up to it).
 * `failed` when that evaluation is missing or the summary says the run failed.
 */
export function runValues(
  run: PlannedRun,
  data: RunData | undefined,
  reason?: string,
  atEpoch?: number,
): RunValues {
  const group = atEpoch === undefined ? run.group : epochGroup(run.group, atEpoch);
  const base = { name: run.name, group, seed: run.seed, epoch: atEpoch, values: {}, curve: [] };
  if (!data) return { ...base, failed: reason ?? 'not run yet' };
  const { summary } = data;
  if (summary?.error) return { ...base, failed: summary.error };
  // Evaluation events count epochs from 0: the one at the end of epoch e (1-based) has epoch e − 1.
  const evals = atEpoch === undefined ? data.evals : data.evals.filter((e) => e.epoch < atEpoch);
  const final =
    atEpoch === undefined
      ? (summary?.final ?? evals.filter((e) => e.final).pop())
      : evals.filter((e) => e.epoch === atEpoch - 1).pop();
  // A run stopped short of its end (Ctrl-C, a batch of the study) has no end yet: its last evaluation is
  // not the end of the configured training.
  const maxSteps = (data.config.train as { maxSteps?: number } | undefined)?.maxSteps;
  if (atEpoch === undefined && summary && !trainingDone(summary, maxSteps))
    return { ...base, failed: `stopped at step ${summary.stepsDone} of ${summary.totalSteps}, not done yet` };
  const study = data.evalFiles.find((f) => f.file === studyEvalFileName(atEpoch));
  const where = atEpoch === undefined ? 'at the end' : `at epoch ${atEpoch}`;
  // A run stopped during an evaluation may lack the one during training: the study's own evaluation of
  // the checkpoint still stands (its clean accuracy, its attacks), and the row says what is missing.
  if (!summary || (!final && !study))
    return {
      ...base,
      failed: reason ?? (atEpoch === undefined ? 'no final evaluation' : `no evaluation at epoch ${atEpoch}`),
    };
  const notes = final ? [] : [`${run.name}: no evaluation during training ${where}; clean from mat eval`];

  const trainingAttack = trainingEvalLabel(data.config);
  const values: Record<string, number> = final
    ? {
        [CLEAN]: mean(final.peers.map((p) => p.cleanAccuracy)),
        [`${trainingAttack} (training eval)`]: peersRobust(final),
      }
    : { [CLEAN]: mean(study!.models.filter((m) => m.peer !== undefined).map((m) => m.cleanAccuracy)) };
  // The run's time belongs to its end; a checkpoint within it has no time of its own here.
  if (atEpoch === undefined) {
    values[TRAIN_SECONDS] = summary.seconds;
    values[IMAGES_PER_SECOND] = summary.imagesPerSecond;
  }
  // Robust accuracy per epoch (1-based): the epoch evaluations and the final one (at the last epoch).
  const byEpoch = new Map<number, number>();
  for (const e of evals) byEpoch.set(e.epoch + 1, peersRobust(e));
  const curve = [...byEpoch.entries()].sort((a, b) => a[0] - b[0]);
  if (curve.length > 0) {
    const best = curve.reduce((b, p) => (p[1] > b[1] ? p : b));
    values[BEST_ROBUST] = best[1];
    values[BEST_EPOCH] = best[0];
    values[LAST_ROBUST] = curve[curve.length - 1][1];
    values[OVERFIT] = best[1] - curve[curve.length - 1][1];
  }
  // The study's evaluation (mat eval of the final checkpoint): every attack and union, peers averaged.
  if (study) {
    const peers = study.models.filter((m) => m.peer !== undefined);
    const keys = new Map<string, number[]>();
    const add = (key: string, v: number) => keys.set(key, [...(keys.get(key) ?? []), v]);
    for (const m of peers) {
      add(`clean (${study.count} images)`, m.cleanAccuracy);
      for (const r of m.results.filter((r) => r.scale === 1))
        add(`${r.label} ${r.norm} ${r.eps}`, r.accuracy);
      for (const u of m.unions.filter((u) => u.scale === 1))
        add(u.norm === 'all' ? 'all attacks' : `all ${u.norm} attacks`, u.accuracy);
    }
    for (const [key, vs] of keys) values[key] = mean(vs);
    const ensemble = study.models.find((m) => m.peer === undefined);
    for (const u of ensemble?.unions.filter((u) => u.scale === 1 && u.norm === 'all') ?? [])
      values['ensemble, all attacks'] = u.accuracy;
    values[EVAL_SECONDS] = study.seconds;
  }
  return { ...base, values, curve, ...(notes.length > 0 ? { notes } : {}) };
}

/** The label of the run's evaluation attack during training, e.g. "PGD-20 linf 0.1". */
export function trainingEvalLabel(config: Record<string, unknown>): string {
  const attack = (config.eval as { attack?: { steps?: number; norm?: string; eps?: number } } | undefined)
    ?.attack;
  return `PGD-${attack?.steps ?? '?'} ${attack?.norm ?? 'linf'} ${attack?.eps ?? '?'}`;
}

export function stat(xs: readonly number[]): Stat {
  const m = mean(xs);
  const sd =
    xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)) : undefined;
  return { mean: m, sd, min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/**
 * One row per configuration (label × grid point) and evaluated epoch, in the order of `runs`: the
 * statistics of its runs that ended well.
 */
export function studyRows(plan: readonly PlannedRun[], runs: readonly RunValues[]): StudyRow[] {
  const rows: StudyRow[] = [];
  for (const v of runs) {
    const run = plan.find((r) => r.name === v.name);
    if (!run) throw new Error(`run ${v.name} is not in the study's plan`);
    if (!rows.some((r) => r.group === v.group))
      rows.push({
        group: v.group,
        label: run.label,
        ...(v.epoch !== undefined ? { epoch: v.epoch } : {}),
        point: run.point,
        seeds: [],
        missing: [],
        stats: {},
      });
  }
  for (const row of rows) {
    const mine = runs.filter((r) => r.group === row.group);
    const ok = mine.filter((r) => !r.failed);
    row.seeds = ok.map((r) => r.seed);
    row.missing = mine.filter((r) => r.failed).map((r) => ({ name: r.name, reason: r.failed! }));
    const metrics = [...new Set(ok.flatMap((r) => Object.keys(r.values)))];
    for (const metric of metrics) {
      const xs = ok.map((r) => r.values[metric]).filter((v) => v !== undefined && Number.isFinite(v));
      // A metric only some seeds have (an evaluation lost when a run was stopped) is over those seeds; its
      // n says so, and the table shows it (formatStat), so it is never read as the mean over all of them.
      if (xs.length > 0) row.stats[metric] = stat(xs);
    }
  }
  return rows;
}
