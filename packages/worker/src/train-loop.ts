import type { PeerExchange } from '@mat/exchange';
import type { PeerRunner } from './peer-runner';
import type { DistributedStepMetrics } from './peer-step';

export interface StepReport extends DistributedStepMetrics {
  /** Steps done after this one. */
  step: number;
  lr: number;
  epoch: number;
  stepSeconds: number;
}

export interface LoopHooks {
  /** Consulted before each step with the steps done: true ends the loop there (pause, stop, new generation). */
  shouldStop(done: number): boolean | Promise<boolean>;
  /** Aborts a step that waits for its peers (the model is untouched then). */
  signal?: () => AbortSignal | undefined;
  onStep(report: StepReport): void | Promise<void>;
  /** This peer's checkpoint file after `done` steps is written. */
  onCheckpoint(done: number, file: string): void | Promise<void>;
  /** After `done` steps the run evaluates (epoch end, not the final evaluation). */
  onEpochEval?(done: number): void | Promise<void>;
}

/**
 * The worker's training loop, from `start` steps done to the end of the run or until a hook stops it.
 * Each step: attack → publish → receive → teacher labels → loss → update (runner.step), then the
 * checkpoint when one is due. Returns the steps done.
 */
export async function trainLoop(
  runner: PeerRunner,
  exchange: PeerExchange,
  start: number,
  hooks: LoopHooks,
): Promise<number> {
  let done = start;
  const { schedule } = runner;
  while (done < schedule.lastStep && !(await hooks.shouldStop(done))) {
    const t0 = performance.now();
    const metrics = await runner.step(done, exchange, hooks.signal?.());
    done++;
    const epoch = schedule.epochOf(done);
    await hooks.onStep({ ...metrics, step: done, epoch, stepSeconds: (performance.now() - t0) / 1000 });
    if (schedule.checkpointDue(done)) await hooks.onCheckpoint(done, runner.saveCheckpoint(done));
    if (schedule.epochEvalDue(done)) await hooks.onEpochEval?.(done);
  }
  return done;
}
