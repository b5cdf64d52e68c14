import * as fs from 'fs';
import * as path from 'path';
import type { EvalEvent, EvalResult, PeerStepMetrics, RunSummary, StepEvent } from '@mat/core';
import type { RunState, RunStore } from '@mat/exchange';

/**
 * At the end of a distributed run, the coordinator writes what `mat train` writes, so `mat report` and the
 * other tools read either: metrics.jsonl (one `step` line per step with every peer's metrics, `eval`
 * lines) from the run's metrics stream, and summary.json.
 */
export async function writeRunRecords(
  store: RunStore,
  opts: {
    runDir: string;
    state: RunState;
    stepsPerEpoch: number;
    batchSize: number;
    finished: boolean;
    final: Array<EvalResult & { peer: number; step: number }>;
  },
): Promise<RunSummary> {
  const { state, stepsPerEpoch } = opts;
  const rows = await store.redis.xrange(store.keys.metrics, '-', '+');
  const steps = new Map<number, StepEvent>();
  const evals = new Map<number, EvalEvent>();
  for (const [, fields] of rows) {
    const json = fields[fields.indexOf('m') + 1];
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(json) as Record<string, unknown>;
    } catch {
      continue;
    }
    const step = Number(m.step);
    if (m.type === 'step') {
      const e = steps.get(step) ?? {
        step,
        totalSteps: state.lastStep,
        epoch: Math.floor((step - 1) / stepsPerEpoch),
        lr: Number(m.lr),
        seconds: 0,
        peers: [] as PeerStepMetrics[],
      };
      // A step taken again after a rollback replaces the abandoned one.
      e.peers = e.peers.filter((p) => p.peer !== m.peer);
      e.peers.push({
        peer: Number(m.peer),
        loss: Number(m.loss),
        base: Number(m.base),
        distill: Number(m.distill),
        advAccuracy: Number(m.advAccuracy),
      });
      e.seconds = Math.max(e.seconds, Number(m.stepSeconds) || 0);
      steps.set(step, e);
    } else if (m.type === 'eval' && !m.final) {
      const e = evals.get(step) ?? {
        step,
        epoch: Math.floor((step - 1) / stepsPerEpoch),
        final: false,
        peers: [],
      };
      e.peers = e.peers.filter((p) => p.peer !== m.peer);
      e.peers.push({
        peer: Number(m.peer),
        count: Number(m.count),
        cleanAccuracy: Number(m.cleanAccuracy),
        robustAccuracy: Number(m.robustAccuracy),
      });
      evals.set(step, e);
    }
  }
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
  const lines = [
    ...[...steps.values()].map((e) => ({
      type: 'step',
      ...e,
      peers: e.peers.sort((a, b) => a.peer - b.peer),
    })),
    ...[...evals.values()].map((e) => ({ type: 'eval', ...e })),
    ...(final ? [{ type: 'eval', ...final }] : []),
  ].sort((a, b) => a.step - b.step);
  fs.writeFileSync(
    path.join(opts.runDir, 'metrics.jsonl'),
    lines.map((l) => JSON.stringify(l)).join('\n') + '\n',
  );

  const stepsDone = opts.finished ? state.lastStep : state.checkpointStep;
  const seconds = (Date.now() - state.createdAt) / 1000;
  const summary: RunSummary = {
    metadata: { runtime: 'redis', runId: store.runId, generation: state.generation },
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
