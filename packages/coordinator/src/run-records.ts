import {
  imagesTrained,
  RunDirectory,
  runSummary,
  StepAggregator,
  type EvalEvent,
  type EvalResult,
  type MissingEvaluation,
  type RunSchedule,
  type RunSummary,
} from '@mat/core';
import type { RunState } from '@mat/exchange';
import type { LiveMetrics } from './live-metrics';

/**
 * At the end of a distributed run (finished or stopped), the coordinator writes what `mat train` writes,
 * so `mat report` and the other tools read either: metrics.jsonl, kept during the run by LiveMetrics and
 * now rewritten clean with the final evaluation, and summary.json.
 */
export async function writeRunRecords(
  metrics: LiveMetrics,
  opts: {
    runId: string;
    runDir: string;
    state: RunState;
    schedule: RunSchedule;
    batchSize: number;
    finished: boolean;
    final: Array<EvalResult & { peer: number; step: number }>;
    /** Why the run failed, for summary.json. */
    error?: string;
    missingEvaluations?: MissingEvaluation[];
  },
): Promise<RunSummary> {
  const { state } = opts;
  let final: EvalEvent | undefined;
  for (const r of opts.final) {
    if (
      typeof r?.peer !== 'number' ||
      !Number.isFinite(r.cleanAccuracy) ||
      !Number.isFinite(r.robustAccuracy)
    )
      throw new Error(
        `an evaluation job of run ${opts.runId} completed without a result: ${JSON.stringify(r)}`,
      );
  }
  if (opts.final.length === state.peers) {
    const lines = new StepAggregator(opts.schedule, opts.final.length);
    for (const result of opts.final) final = lines.addEval({ ...result, step: state.lastStep, final: true });
  }
  await metrics.finish(final);

  const stepsDone = opts.finished ? state.lastStep : state.checkpointStep;
  // The stream's times are Redis's: the end is read from the same clock.
  const [secondsNow, micros] = await metrics.store.redis.time();
  const history = metrics.timeline.history;
  const summary = runSummary({
    metadata: { runtime: 'redis', runId: opts.runId, generation: state.generation },
    runDir: opts.runDir,
    stepsDone,
    totalSteps: state.totalSteps,
    timing: metrics.timeline.timing(Number(secondsNow) * 1000 + Math.floor(Number(micros) / 1000)),
    history,
    images: imagesTrained(
      { stepsDone, countedFrom: 0, stepsRedone: history.stepsRedone },
      opts.batchSize,
      state.peers,
    ),
    final,
    error: opts.error,
    missingEvaluations: opts.missingEvaluations,
  });
  new RunDirectory(opts.runDir).writeSummary(summary);
  metrics.progress.summary(summary);
  return summary;
}
