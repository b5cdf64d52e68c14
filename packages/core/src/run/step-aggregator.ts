import type { EvalResult } from '../train/evaluate';
import type { EvalEvent, PeerEvalReport, PeerStepReport, StepEvent, StepLinePeer } from './run-records';
import type { RunSchedule } from './run-schedule';

/** A step that some peers have reported so far, all in one generation. */
interface PendingStep {
  generation: number;
  lr: number;
  seconds: number;
  peers: Map<number, StepLinePeer>;
}

/**
 * Turns per-peer reports into whole-step records: a `step` line once every peer has reported the step, an
 * `eval` line once every peer's evaluation of a step is in. Every runtime builds its metrics.jsonl lines
 * here (the in-process trainer, the parent of `--runtime processes`, the coordinator's LiveMetrics), so the
 * lines are the same whichever runtime ran the config.
 *
 * Generations (distributed runs): after a rollback every peer re-takes steps in a newer generation. A
 * report of a newer generation replaces what an older one had reported of that step; a report of an
 * older generation than the pending one is ignored. Runtimes without rollbacks use generation 0.
 */
export class StepAggregator {
  private readonly steps = new Map<number, PendingStep>();
  private readonly evals = new Map<string, Map<number, EvalResult & { peer: number }>>();

  constructor(
    private readonly schedule: RunSchedule,
    /** Number of peers of the run: a line is complete with this many reports. */
    readonly peers: number,
  ) {}

  /** Adds one peer's report of a step; returns the step's line once every peer has reported it. */
  addStep(report: PeerStepReport, generation = 0): StepEvent | undefined {
    const { step } = report;
    let pending = this.steps.get(step);
    if (pending && pending.generation > generation) return undefined;
    if (!pending || pending.generation < generation) {
      pending = { generation, lr: report.lr, seconds: 0, peers: new Map() };
      this.steps.set(step, pending);
    }
    pending.peers.set(report.peer, stepLinePeer(report));
    // The step took as long as its slowest peer.
    pending.seconds = Math.max(pending.seconds, report.stepSeconds || 0);
    if (pending.peers.size < this.peers) return undefined;
    this.steps.delete(step);
    return {
      step,
      totalSteps: this.schedule.lastStep,
      epoch: this.schedule.epochOf(step),
      lr: pending.lr,
      seconds: pending.seconds,
      peers: byPeer(pending.peers),
    };
  }

  /** Adds one peer's evaluation; returns the evaluation's line once every peer's result is in. */
  addEval(report: PeerEvalReport): EvalEvent | undefined {
    const key = `${report.step}:${report.final}`;
    const results = this.evals.get(key) ?? new Map<number, EvalResult & { peer: number }>();
    this.evals.set(key, results);
    const { peer, count, cleanAccuracy, robustAccuracy } = report;
    results.set(peer, { peer, count, cleanAccuracy, robustAccuracy });
    if (results.size < this.peers) return undefined;
    this.evals.delete(key);
    return {
      step: report.step,
      epoch: this.schedule.epochOf(report.step),
      final: report.final,
      peers: byPeer(results),
    };
  }

  /** Forgets the pending steps after `step` that generations older than `generation` reported (a rollback). */
  dropStepsAfter(step: number, generation: number): void {
    for (const [s, pending] of this.steps)
      if (s > step && pending.generation < generation) this.steps.delete(s);
  }

  /** Forgets everything pending (the reports will be read again from their start). */
  clear(): void {
    this.steps.clear();
    this.evals.clear();
  }
}

/** A peer's numbers in a step line, always in this key order. */
function stepLinePeer(r: PeerStepReport): StepLinePeer {
  return {
    peer: r.peer,
    loss: r.loss,
    base: r.base,
    distill: r.distill,
    advAccuracy: r.advAccuracy,
    ...(r.exchangeSeconds !== undefined && { exchangeSeconds: r.exchangeSeconds }),
    // Bounded staleness (train.maxStaleness > 0): how old the teacher outputs of this step were.
    ...(r.staleness !== undefined && { staleness: r.staleness }),
  };
}

function byPeer<T extends { peer: number }>(entries: Map<number, T>): T[] {
  return [...entries.values()].sort((a, b) => a.peer - b.peer);
}
