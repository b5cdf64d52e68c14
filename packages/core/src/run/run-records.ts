import type { EvalResult } from '../train/evaluate';
import type { PeerStepMetrics } from '../train/mat-step';
import type { z } from 'zod';
import {
  totalSeconds,
  type missingEvaluationSchema,
  type RunHistory,
  type RunTiming,
  type runSummarySchema,
} from './run-summary';

/**
 * What a run records, the same for every runtime: the lines of metrics.jsonl (one per step, one per
 * evaluation) and summary.json. Timing fields (`seconds`, `exchangeSeconds`, `imagesPerSecond`, `timing`) and
 * `metadata` (where it ran) are the only ones that may differ between runtimes for one config and seed.
 */

/** One peer's numbers in a step line. */
export interface StepLinePeer extends PeerStepMetrics {
  /** Process runtimes: time spent publishing and waiting for the peers' messages. */
  exchangeSeconds?: number;
  /** Bounded staleness only: this step minus the oldest step whose teacher outputs it used. */
  staleness?: number;
}

/** A step all peers have taken (a `step` line of metrics.jsonl, without its `type`). */
export interface StepEvent {
  /** Steps done after this one (1 for the first step). */
  step: number;
  /** The step the run ends at (the schedule's lastStep). */
  totalSteps: number;
  epoch: number;
  lr: number;
  /** Wall-clock seconds of the step, of its slowest peer. */
  seconds: number;
  peers: StepLinePeer[];
}

/** Every peer's evaluation at one step (an `eval` line of metrics.jsonl, without its `type`). */
export interface EvalEvent {
  step: number;
  epoch: number;
  /** The evaluation at the end of the run (also of a run stopped early). */
  final: boolean;
  peers: Array<EvalResult & { peer: number }>;
}

/** One line of metrics.jsonl. */
export type MetricsLine = ({ type: 'step' } & StepEvent) | ({ type: 'eval' } & EvalEvent);

/** summary.json (its contract: ./run-summary.ts). */
export type RunSummary = z.output<typeof runSummarySchema>;

export type MissingEvaluation = z.output<typeof missingEvaluationSchema>;

/** One peer's report of one step, as a worker process sends it (the aggregator's input). */
export interface PeerStepReport extends StepLinePeer {
  /** Steps done after this one. */
  step: number;
  lr: number;
  stepSeconds: number;
}

/** One peer's evaluation, as a worker process sends it (the aggregator's input). */
export interface PeerEvalReport extends EvalResult {
  peer: number;
  step: number;
  final: boolean;
}

/** summary.json's content from what the run did; the same arithmetic for every runtime. */
export function runSummary(opts: {
  metadata: Record<string, unknown>;
  runDir: string;
  stepsDone: number;
  totalSteps: number;
  /** Where the run's time went; `seconds` is their sum. */
  timing: RunTiming;
  history: RunHistory;
  /** Adversarial training images processed in timing.trainingSeconds, over all peers. */
  images: number;
  final?: EvalEvent;
  error?: string;
  missingEvaluations?: MissingEvaluation[];
}): RunSummary {
  const { timing } = opts;
  return {
    metadata: opts.metadata,
    runDir: opts.runDir,
    stepsDone: opts.stepsDone,
    totalSteps: opts.totalSteps,
    stoppedEarly: opts.stepsDone < opts.totalSteps,
    seconds: totalSeconds(timing),
    imagesPerSecond: timing.trainingSeconds > 0 ? opts.images / timing.trainingSeconds : 0,
    timing,
    history: opts.history,
    final: opts.final,
    ...(opts.error !== undefined && { error: opts.error }),
    ...(opts.missingEvaluations?.length && { missingEvaluations: opts.missingEvaluations }),
  };
}

/** One line per step and per evaluation (the last one given wins), in step order. */
export function compactMetricsLines(lines: readonly MetricsLine[]): MetricsLine[] {
  const latest = new Map<string, MetricsLine>();
  for (const line of lines) {
    const key = line.type === 'eval' ? `eval:${line.step}:${line.final}` : `${line.type}:${line.step}`;
    latest.set(key, line);
  }
  // A step's line first, then its evaluation, the final one last.
  const rank = (l: MetricsLine) => (l.type === 'step' ? 0 : l.final ? 2 : 1);
  return [...latest.values()].sort((a, b) => a.step - b.step || rank(a) - rank(b));
}

/** A run that ended as failed (a peer diverged, an evaluation could not be done): summary.json says why. */
export class RunFailedError extends Error {
  constructor(
    readonly reason: string,
    readonly summary?: RunSummary,
  ) {
    super(`the run failed: ${reason}`);
    this.name = 'RunFailedError';
  }
}
