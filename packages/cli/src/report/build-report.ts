import {
  describeMethod,
  describePerturbations,
  parseRunConfig,
  type EvalEvent,
  type MissingEvaluation,
  type ModelEvalResult,
  type Norm,
  type RunHistory,
  type RunTiming,
} from '@mat/core';
import { findMissing } from './missing';
import type { RunData, StepRecord } from './run-data';

/** A line of a line chart: (x, y) points. */
export interface Series {
  name: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

export interface LineChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** 'percent': y in [0, 1] shown as %, axis fixed to 0–100 %. */
  yFormat: 'percent' | 'number';
  series: Series[];
}

export interface BarChartSpec {
  id: string;
  title: string;
  yLabel: string;
  /** One group of bars per category (e.g. "APGD-CE linf 0.1"); one bar per series (e.g. "peer 0"). */
  categories: string[];
  series: Array<{ name: string; values: Array<number | null> }>;
}

export interface RobustnessSection {
  file: string;
  step: number;
  count: number;
  dataset: string;
  eps: Partial<Record<Norm, number>>;
  scales: number[];
  skipped: Array<{ attack: string; norm: Norm; reason: string }>;
  models: ModelEvalResult[];
}

/** The report as data: what report.json holds and the Markdown and HTML pages render. */
export interface RunReport {
  kind: 'mat-report';
  version: 1;
  generatedAt: string;
  run: {
    name: string;
    dir: string;
    dataset: string;
    arch: string;
    peers: number;
    /** e.g. "madry + MAT (λ_own 1, λ_peer 1, τ 1)". */
    method: string;
    /** e.g. "PGD-10 linf eps 0.1" or "MAT-MP max over …". */
    training: string;
    stepsDone?: number;
    totalSteps?: number;
    seconds?: number;
    imagesPerSecond?: number;
    /** Where the time went (summary.json of runs that record it). */
    timing?: RunTiming;
    /** Generations, rollbacks, lost workers, steps redone (summary.json of runs that record it). */
    history?: RunHistory;
    backend?: string;
    /** Why the run failed (summary.json). */
    error?: string;
    /** Scheduled evaluations that could not be done (summary.json). */
    missingEvaluations?: MissingEvaluation[];
  };
  /** The last evaluation during training, per peer. */
  finalEval?: {
    step: number;
    peers: Array<{ peer: number; cleanAccuracy: number; robustAccuracy: number; count: number }>;
  };
  /** One section per eval-*.json file, oldest step first. */
  robustness: RobustnessSection[];
  charts: { lines: LineChartSpec[]; bars: BarChartSpec[] };
  /** What the run's files lack (summary, evaluations, peers, steps): shown first, never drawn around. */
  missing: string[];
  /** Why a chart is missing, for the reader. */
  notes: string[];
}

/** At most this many points per training curve (bucket means), so the pages stay small for long runs. */
export const MAX_CURVE_POINTS = 400;

const pctLabel = (v: number) => `${+v.toPrecision(4)}`;

/** Builds the report from a run's files. */
export function buildReport(data: RunData, now = new Date()): RunReport {
  const config = parseRunConfig(data.config, `${data.runDir}/config.json`);
  const lastFinal = [...data.evals].reverse().find((e) => e.final) ?? data.evals[data.evals.length - 1];
  const backend = (data.summary?.metadata?.backend as { name?: string } | undefined)?.name;
  const notes: string[] = [];
  const lines: LineChartSpec[] = [];
  const bars: BarChartSpec[] = [];

  if (data.steps.length > 0) {
    const peers = peersOf(data.steps);
    // A step a peer is missing from has no point of that peer (report.missing says so).
    const curve = (pick: (m: StepRecord['peers'][number]) => number) =>
      peers.map((peer) => ({
        name: `peer ${peer}`,
        points: downsample(
          data.steps.flatMap((s): Array<[number, number]> => {
            const m = s.peers.find((p) => p.peer === peer);
            return m ? [[s.step, pick(m)]] : [];
          }),
          MAX_CURVE_POINTS,
        ),
      }));
    lines.push({
      id: 'training-loss',
      title: 'Training loss per peer (MAT loss: base + distillation)',
      xLabel: 'training step',
      yLabel: 'loss',
      yFormat: 'number',
      series: curve((m) => m.loss),
    });
    lines.push({
      id: 'training-adv-accuracy',
      title: 'Accuracy on own adversarial training examples, per peer',
      xLabel: 'training step',
      yLabel: 'accuracy',
      yFormat: 'percent',
      series: curve((m) => m.advAccuracy),
    });
  } else {
    notes.push('metrics.jsonl has no training steps: no training curves.');
  }
  if (data.evals.length > 0) {
    const peers = peersOf(data.evals);
    const series: Series[] = peers.flatMap((peer) => {
      const points = (pick: (r: EvalEvent['peers'][number]) => number) =>
        data.evals.flatMap((e): Array<[number, number]> => {
          const r = e.peers.find((p) => p.peer === peer);
          return r ? [[e.step, pick(r)]] : [];
        });
      return [
        { name: `peer ${peer} robust`, points: points((r) => r.robustAccuracy) },
        { name: `peer ${peer} clean`, points: points((r) => r.cleanAccuracy), dashed: true },
      ];
    });
    lines.push({
      id: 'eval-during-training',
      title: `Test accuracy during training (clean, and under ${describeEvalAttack(data.config)})`,
      xLabel: 'training step',
      yLabel: 'accuracy',
      yFormat: 'percent',
      series,
    });
  }

  const robustness = data.evalFiles.map((f): RobustnessSection => ({
    file: f.file,
    step: f.step,
    count: f.count,
    dataset: f.dataset,
    eps: f.eps,
    scales: f.scales,
    skipped: f.skipped,
    models: f.models,
  }));
  for (const section of robustness) bars.push(robustBars(section));
  if (robustness.length === 0) {
    notes.push(
      'no eval-*.json files: run `mat eval <run> --attacks … --norms …` for robust accuracy per attack and norm.',
    );
  }
  const epsCharts = accuracyVsEps(robustness);
  lines.push(...epsCharts);
  if (robustness.length > 0 && epsCharts.length === 0) {
    notes.push(
      'every evaluation used one radius per norm: run `mat eval … --eps-scales 0.25,0.5,1,2` for accuracy-vs-eps curves.',
    );
  }

  // A failed run and evaluations that could not be done are said, never left out silently.
  if (data.summary?.error !== undefined) notes.push(`The run failed: ${data.summary.error}`);
  for (const m of data.summary?.missingEvaluations ?? [])
    notes.push(`The evaluation of peer ${m.peer} at step ${m.step} was not done: ${m.reason}`);

  return {
    kind: 'mat-report',
    version: 1,
    generatedAt: now.toISOString(),
    run: {
      name: config.name,
      dir: data.runDir,
      dataset: config.data.dataset,
      arch: config.model.arch,
      peers: config.peers,
      method: describeMethod(config),
      training: describePerturbations(config),
      stepsDone: data.summary?.stepsDone ?? data.steps[data.steps.length - 1]?.step,
      totalSteps: data.summary?.totalSteps,
      seconds: data.summary?.seconds,
      imagesPerSecond: data.summary?.imagesPerSecond,
      timing: data.summary?.timing,
      history: data.summary?.history,
      backend,
      ...(data.summary?.error !== undefined && { error: data.summary.error }),
      ...(data.summary?.missingEvaluations && { missingEvaluations: data.summary.missingEvaluations }),
    },
    finalEval: lastFinal ? { step: lastFinal.step, peers: lastFinal.peers } : undefined,
    robustness,
    charts: { lines, bars },
    missing: findMissing(data, config),
    notes,
  };
}

function describeEvalAttack(raw: Record<string, unknown>): string {
  const a = ((raw.eval as Record<string, unknown>)?.attack ?? {}) as {
    steps?: number;
    norm?: string;
    eps?: number;
  };
  return `PGD-${a.steps ?? 10} ${a.norm ?? 'linf'} eps ${pctLabel(a.eps ?? 0)}`;
}

/** Robust accuracy per attack × norm (and the unions) at the first scale, one bar per model. */
function robustBars(section: RobustnessSection): BarChartSpec {
  const scale = section.scales.includes(1) ? 1 : section.scales[0];
  const first = section.models[0];
  const rows: Array<{ label: string; value: (m: ModelEvalResult) => number }> = [
    { label: 'clean', value: (m) => m.cleanAccuracy },
  ];
  for (const union of first.unions.filter((u) => u.scale === scale)) {
    if (union.norm !== 'all') {
      first.results.forEach((r, i) => {
        if (r.scale === scale && r.norm === union.norm)
          rows.push({
            label: `${r.label} ${r.norm} ${pctLabel(r.eps)}`,
            value: (m) => m.results[i].accuracy,
          });
      });
    }
    const u = first.unions.indexOf(union);
    rows.push({
      label:
        union.norm === 'all' ? 'union (all norms)' : `union ${union.norm} ${pctLabel(union.eps as number)}`,
      value: (m) => m.unions[u].accuracy,
    });
  }
  return {
    id: `robust-step${section.step}-${section.file.replace(/\.json$/, '')}`,
    title: `Robust accuracy per attack and norm at step ${section.step} (${section.count} test images)`,
    yLabel: 'accuracy',
    categories: rows.map((r) => r.label),
    series: section.models.map((m) => ({ name: m.model, values: rows.map((r) => r.value(m)) })),
  };
}

/**
 * Accuracy vs eps per norm, from the newest eval file that measured the norm at two radii or more (one
 * file, so every point of a union curve combines the same attacks): each model's union over the norm's
 * attacks, and each attack alone for the ensemble (or the first model).
 */
function accuracyVsEps(sections: RobustnessSection[]): LineChartSpec[] {
  const charts: LineChartSpec[] = [];
  for (const norm of ['linf', 'l2', 'l1'] as Norm[]) {
    const radii = (s: RobustnessSection) =>
      new Set(s.models[0].results.filter((r) => r.norm === norm).map((r) => r.eps)).size;
    const section = [...sections].reverse().find((s) => radii(s) >= 2);
    if (!section) continue;
    const series: Series[] = section.models.map((m) => ({
      name: `${m.model} union`,
      points: m.unions
        .filter((u) => u.norm === norm)
        .map((u): [number, number] => [u.eps as number, u.accuracy]),
    }));
    const main = section.models.find((m) => m.model === 'ensemble') ?? section.models[0];
    const byAttack = new Map<string, Array<[number, number]>>();
    for (const r of main.results.filter((r) => r.norm === norm)) {
      if (!byAttack.has(r.label)) byAttack.set(r.label, []);
      byAttack.get(r.label)!.push([r.eps, r.accuracy]);
    }
    for (const [label, points] of byAttack)
      series.push({ name: `${main.model}: ${label}`, points, dashed: true });
    for (const s of series) s.points.sort((p, q) => p[0] - q[0]);
    charts.push({
      id: `accuracy-vs-eps-${norm}`,
      title: `Robust accuracy vs eps (${norm}), step ${section.step}`,
      xLabel: `eps (${norm})`,
      yLabel: 'accuracy',
      yFormat: 'percent',
      series,
    });
  }
  return charts;
}

/** Every peer that appears in any of the records, in order. */
function peersOf(records: ReadonlyArray<{ peers: ReadonlyArray<{ peer: number }> }>): number[] {
  return [...new Set(records.flatMap((r) => r.peers.map((p) => p.peer)))].sort((a, b) => a - b);
}

/** Bucket means: at most `max` points, each the mean x and y of a run of consecutive points. */
export function downsample(points: Array<[number, number]>, max: number): Array<[number, number]> {
  if (points.length <= max) return points;
  const out: Array<[number, number]> = [];
  const size = points.length / max;
  for (let b = 0; b < max; b++) {
    const chunk = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (chunk.length === 0) continue;
    out.push([
      chunk.reduce((s, p) => s + p[0], 0) / chunk.length,
      chunk.reduce((s, p) => s + p[1], 0) / chunk.length,
    ]);
  }
  return out;
}
