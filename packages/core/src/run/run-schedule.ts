import type { RunConfig } from '../config/schema';
import { learningRateAt } from '../train/schedule';

/**
 * When things happen in a run, the same for every runtime (in-process, one process per peer, coordinator
 * and workers). Steps are counted as steps done: step 1 is the first step taken, and "after step s" is the
 * state once s steps are done; a step's 0-based index (what the batcher and the learning rate use) is s − 1.
 *
 *   totalSteps   epochs × stepsPerEpoch: what the learning-rate schedule spans
 *   lastStep     where the run ends: totalSteps, or train.maxSteps when that comes first
 *   checkpoints  every train.checkpointEvery steps, at every epoch evaluation (evaluation jobs read a
 *                committed checkpoint) and at lastStep
 *   evaluations  at every epoch end before lastStep when eval.everyEpoch, and the final one at the end
 */
export class RunSchedule {
  readonly totalSteps: number;
  readonly lastStep: number;
  /** The steps whose checkpoints are never pruned: the ends of train.keepEpochs (up to lastStep). */
  readonly keptSteps: ReadonlySet<number>;

  constructor(
    private readonly config: Pick<RunConfig, 'optim' | 'train' | 'eval'>,
    /** Batches per epoch of the run's batcher (the training set size over the batch size, rounded down). */
    readonly stepsPerEpoch: number,
  ) {
    if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch < 1)
      throw new Error(`RunSchedule: stepsPerEpoch must be a positive integer, got ${stepsPerEpoch}`);
    this.totalSteps = config.train.epochs * stepsPerEpoch;
    this.lastStep = Math.min(this.totalSteps, config.train.maxSteps ?? Infinity);
    const kept = (config.train.keepEpochs ?? []).map((epoch) => epoch * stepsPerEpoch);
    this.keptSteps = new Set(kept.filter((step) => step <= this.lastStep));
  }

  /** The epoch (0-based) that step `done` belongs to: steps 1..stepsPerEpoch are epoch 0. */
  epochOf(done: number): number {
    return Math.floor((done - 1) / this.stepsPerEpoch);
  }

  /** The batch that the step with 0-based index `index` trains on. */
  batchOf(index: number): { epoch: number; index: number } {
    return { epoch: Math.floor(index / this.stepsPerEpoch), index: index % this.stepsPerEpoch };
  }

  /** The learning rate of the step with 0-based index `index`. */
  learningRate(index: number): number {
    return learningRateAt(this.config.optim.lr, this.config.optim.schedule, index, this.totalSteps);
  }

  /** Whether the run evaluates after step `done` before its end (epoch ends, eval.everyEpoch). */
  epochEvalDue(done: number): boolean {
    return this.config.eval.everyEpoch && done > 0 && done % this.stepsPerEpoch === 0 && done < this.lastStep;
  }

  /** Every step with an epoch evaluation (epochEvalDue), in order. */
  epochEvalSteps(): number[] {
    const steps = [];
    for (let done = this.stepsPerEpoch; done < this.lastStep; done += this.stepsPerEpoch)
      if (this.epochEvalDue(done)) steps.push(done);
    return steps;
  }

  /** Whether a checkpoint is taken after step `done`. */
  checkpointDue(done: number): boolean {
    const every = this.config.train.checkpointEvery;
    return (
      (every > 0 && done > 0 && done % every === 0) ||
      this.epochEvalDue(done) ||
      done === this.lastStep ||
      this.keptSteps.has(done)
    );
  }
}
