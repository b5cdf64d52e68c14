import * as fs from 'fs';
import * as path from 'path';
import type { EvalEvent, EvalResult, RunSummary } from '@mat/core';
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
    stepsPerEpoch: number;
    batchSize: number;
    finished: boolean;
    final: Array<EvalResult & { peer: number; step: number }>;
  },
): Promise<RunSummary> {
  const { state, stepsPerEpoch } = opts;
  const final: EvalEvent | undefined =
    opts.final.length > 0
      ? {
          step: state.lastStep,
          epoch: Math.floor((state.lastStep - 1) / stepsPerEpoch),
          final: true,
          peers: opts.final
            .map(({ peer, count, cleanAccuracy, robustAccuracy }) => ({
              peer,
              count,
              cleanAccuracy,
              robustAccuracy,
            }))
            .sort((a, b) => a.peer - b.peer),
        }
      : undefined;
  await metrics.finish(final);

  const stepsDone = opts.finished ? state.lastStep : state.checkpointStep;
  const seconds = (Date.now() - state.createdAt) / 1000;
  const summary: RunSummary = {
    metadata: { runtime: 'redis', runId: opts.runId, generation: state.generation },
    runDir: opts.runDir,
    stepsDone,
    totalSteps: state.totalSteps,
    stoppedEarly: stepsDone < state.totalSteps,
    seconds,
    imagesPerSecond: seconds > 0 ? (stepsDone * opts.batchSize * state.peers) / seconds : 0,
    final,
  };
  fs.writeFileSync(path.join(opts.runDir, 'summary.json'), JSON.stringify(summary, null, 2));
  return summary;
}
