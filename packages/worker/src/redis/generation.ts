import { DivergenceError } from '@mat/core';
import {
  ErrorOnce,
  ExchangeAborted,
  type RedisPeerExchange,
  type RunState,
  type RunStore,
} from '@mat/exchange';
import type { PeerRunner } from '../peer-runner';
import { trainLoop } from '../train-loop';
import type { Heartbeat } from './heartbeat';
import type { RunStatePoller } from './run-state-poller';
import { decideAtBoundary, decideDuringStep } from './worker-decisions';

export interface GenerationContext {
  runner: PeerRunner;
  exchange: RedisPeerExchange;
  peer: number;
  store: RunStore;
  poller: RunStatePoller;
  heartbeat: Heartbeat;
  pollMs: number;
  leaveGraceMs: number;
  clock: () => number;
  /** When leave() was called, if it was. */
  leavingSince: () => number | undefined;
  /** This worker still holds its peer's slot (the heartbeat has not found it lost). */
  holdsSlot: () => boolean;
  /** Reports this peer's checkpoint file after `step` steps of `generation` to the coordinator. */
  reportSaved: (generation: number, step: number) => Promise<void>;
  log: (message: string) => void;
}

/** How one generation ended for this worker. */
export type GenerationEnd =
  /** The generation is over (another began, the run ended, the slot was lost, another peer diverged). */
  | { type: 'abandoned'; at: number }
  /** Every peer stops at `at` (the end of the run, or a pause), where this peer's checkpoint is written. */
  | { type: 'paused'; at: number }
  /** This peer diverged; reported to the coordinator. */
  | { type: 'diverged'; error: DivergenceError }
  /** Leaving, and a step waited for its peers longer than the leave grace: no checkpoint. */
  | { type: 'left'; at: number };

/**
 * One generation of one peer: from its resume step to the end of the run or a pause, unless it is
 * abandoned. The run's state is watched (through the worker's one poller) while a step waits for its
 * peers, and read at every step boundary; both decisions are worker-decisions.ts's.
 */
export async function trainGeneration(ctx: GenerationContext, state: RunState): Promise<GenerationEnd> {
  const { runner, exchange, peer, store, poller } = ctx;
  const generation = state.generation;
  runner.restore(state.resumeStep);
  exchange.setGeneration(generation);
  ctx.log(`peer ${peer}: generation ${generation} from step ${state.resumeStep}`);

  let done = state.resumeStep;
  let checkpointed = -1;
  const abort = new AbortController();
  const errors = new ErrorOnce(ctx.log);
  const watch = setInterval(() => {
    poller.read().then(
      (s) => {
        errors.clear();
        const action = decideDuringStep({
          state: s,
          generation,
          holdsSlot: ctx.holdsSlot(),
          done,
          leavingSince: ctx.leavingSince(),
          now: ctx.clock(),
          leaveGraceMs: ctx.leaveGraceMs,
        });
        if (action.type !== 'continue') abort.abort(action.type);
      },
      // The next poll tries again; a lost worker is the coordinator's business (leases), not this one's.
      (err) => errors.report('reading the run state', err),
    );
  }, ctx.pollMs);

  try {
    done = await trainLoop(runner, exchange, state.resumeStep, {
      shouldStop: async (d) => {
        done = d;
        const action = decideAtBoundary({
          state: await poller.read(),
          generation,
          holdsSlot: ctx.holdsSlot(),
          done: d,
          leaving: ctx.leavingSince() !== undefined,
          maxStaleness: runner.config.train.maxStaleness,
        });
        switch (action.type) {
          case 'continue':
            return false;
          case 'end-generation':
            abort.abort('abort-generation');
            return true;
          case 'pause-here':
            return true;
          case 'request-pause': {
            const at = await store.requestPause(action.at);
            // -1: Redis lost the run meanwhile; the coordinator registers it again, a new generation follows.
            if (at < 0) abort.abort('abort-generation');
            return at < 0 || d >= at;
          }
        }
      },
      signal: () => abort.signal,
      onStep: (r) => {
        done = r.step;
        ctx.heartbeat.update({
          worker: { stepSeconds: r.stepSeconds },
          slot: { step: r.step, status: 'training' },
        });
        const { loss, base, distill, advAccuracy, lr, stepSeconds, exchangeSeconds, staleness } = r;
        store
          .addMetric({
            type: 'step',
            peer,
            step: r.step,
            // The coordinator's metrics.jsonl keeps a step's numbers from one generation only.
            generation,
            loss,
            base,
            distill,
            advAccuracy,
            lr,
            stepSeconds,
            exchangeSeconds,
            ...(staleness !== undefined && { staleness }),
          })
          .catch((err: Error) => errors.report(`metrics of step ${r.step}`, err));
      },
      onCheckpoint: async (d) => {
        checkpointed = d;
        await ctx.reportSaved(generation, d);
      },
    });
  } catch (err) {
    if (err instanceof DivergenceError) {
      ctx.log(`error: ${err.message}`);
      await store.reportDivergence({ peer, step: err.step, generation, reason: err.message });
      return { type: 'diverged', error: err };
    }
    if (!(err instanceof ExchangeAborted)) throw err;
  } finally {
    clearInterval(watch);
  }
  if (abort.signal.reason === 'abort-generation') {
    ctx.log(`peer ${peer}: generation ${generation} ended at step ${done}`);
    return { type: 'abandoned', at: done };
  }
  if (abort.signal.reason === 'abort-leave') {
    ctx.log(`peer ${peer}: leaving at step ${done} without a checkpoint (the peers did not answer in time)`);
    return { type: 'left', at: done };
  }
  // Finished or paused at `done`: every peer checkpoints there.
  if (checkpointed !== done) {
    runner.saveCheckpoint(done);
    await ctx.reportSaved(generation, done);
  }
  return { type: 'paused', at: done };
}
