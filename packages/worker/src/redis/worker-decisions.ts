import type { RunState } from '@mat/exchange';

/**
 * The Redis worker's decisions, as pure functions of what it sees: the run's state × this worker's slot
 * and generation × events (slot lost, leave asked for, time). RedisWorker (./redis-worker.ts) reads,
 * decides and acts; these are table-tested without Redis (test/worker/worker-decisions.test.ts).
 */

export type WorkerOutcome = 'finished' | 'stopped' | 'failed' | 'left';

/** What the worker knows of itself between generations. */
export interface WorkerSelf {
  /** The peer slot held, if any. */
  peer: number | undefined;
  /** The heartbeat found the slot given to someone else. */
  slotLost: boolean;
  /** SIGTERM: leave after checkpointing with the others. */
  leaving: boolean;
  /** The generation this worker last trained in (from its start). */
  trainedGeneration: number;
  /** The generation this worker trained to its end (finished, paused, or its peer diverged). */
  doneGeneration: number;
  /** The step the done generation ended at (undefined when it ended in a divergence). */
  pausedAt: number | undefined;
  /** Bounded staleness: a peer whose steps are over answers slower peers until their checkpoint. */
  servesAfterSteps: boolean;
}

export type WorkerAction =
  | { type: 'exit'; outcome: WorkerOutcome }
  /** Forget the slot (it was lost, or the run is gone from Redis), then decide again. */
  | { type: 'drop-slot' }
  /** Try to claim a free slot; without one, idle. */
  | { type: 'claim' }
  /** Nothing to train: take an evaluation job, or wait. */
  | { type: 'idle' }
  /** Answer slower peers (bounded staleness) for a while. */
  | { type: 'serve' }
  /** Give the slot back (after the pause checkpoint is committed) and leave. */
  | { type: 'hand-back' }
  /** Train the current generation. */
  | { type: 'train' };

const TERMINAL: readonly string[] = ['finished', 'stopped', 'failed'];

export function decideWorker(state: RunState | undefined, self: WorkerSelf): WorkerAction {
  if (state && TERMINAL.includes(state.status))
    return { type: 'exit', outcome: state.status as WorkerOutcome };
  if (self.slotLost && self.peer !== undefined) return { type: 'drop-slot' };
  // Redis lost the run (restart without persistence): the coordinator recreates it.
  if (!state) return self.peer !== undefined ? { type: 'drop-slot' } : { type: 'idle' };
  if (self.peer === undefined) return self.leaving ? { type: 'exit', outcome: 'left' } : { type: 'claim' };
  // A worker new to a generation that is pausing (someone leaving) waits for the next one.
  const pausing = state.pauseAt !== undefined && self.trainedGeneration !== state.generation;
  if (state.status !== 'running' || state.generation === self.doneGeneration || pausing) {
    const mustServe =
      self.servesAfterSteps &&
      state.status === 'running' &&
      state.generation === self.doneGeneration &&
      self.pausedAt !== undefined &&
      state.checkpointStep < self.pausedAt;
    if (mustServe) return { type: 'serve' };
    if (self.leaving) return { type: 'hand-back' };
    return { type: 'idle' };
  }
  return { type: 'train' };
}

/** What a training worker does while one of its steps waits for its peers (GenerationWatch). */
export type StepWatchAction =
  | { type: 'continue' }
  /** The generation is over for this worker (another began, the run ended or failed, the slot is lost). */
  | { type: 'abort-generation' }
  /** A pause (someone leaving, a stop) is set at or before the steps done: stop here, checkpoint. */
  | { type: 'abort-pause' }
  /** Leaving, and the step could not finish within the leave grace: give the slot back without a checkpoint. */
  | { type: 'abort-leave' };

export interface StepWatchView {
  state: RunState | undefined;
  generation: number;
  /** This worker still holds the slot of its peer. */
  holdsSlot: boolean;
  /** Steps this peer has done. */
  done: number;
  /** When leave() was called (ms epoch, the worker's clock), if it was. */
  leavingSince: number | undefined;
  now: number;
  leaveGraceMs: number;
}

export function decideDuringStep(v: StepWatchView): StepWatchAction {
  const s = v.state;
  if (!s || s.generation !== v.generation || s.status !== 'running' || !v.holdsSlot)
    return { type: 'abort-generation' };
  // Another peer diverged in this generation: the coordinator fails or rolls back the run; nobody waits.
  if (s.divergence && s.divergence.generation === v.generation) return { type: 'abort-generation' };
  if (s.pauseAt !== undefined && s.pauseAt <= v.done) return { type: 'abort-pause' };
  if (v.leavingSince !== undefined && v.now - v.leavingSince > v.leaveGraceMs) return { type: 'abort-leave' };
  return { type: 'continue' };
}

/** At a step boundary: go on, stop the generation here, or ask every peer to pause (leave / stop). */
export type BoundaryAction =
  | { type: 'continue' }
  | { type: 'end-generation' }
  | { type: 'pause-here' }
  | { type: 'request-pause'; at: number };

export function decideAtBoundary(v: {
  state: RunState | undefined;
  generation: number;
  holdsSlot: boolean;
  done: number;
  leaving: boolean;
  /** With bounded staleness s, a pause asked for after `done` steps is set at done + s + 1. */
  maxStaleness: number;
}): BoundaryAction {
  const s = v.state;
  if (!s || s.generation !== v.generation || s.status !== 'running' || !v.holdsSlot)
    return { type: 'end-generation' };
  if (s.divergence && s.divergence.generation === v.generation) return { type: 'end-generation' };
  if (s.pauseAt === undefined) {
    if (v.leaving || s.stopRequested)
      return { type: 'request-pause', at: v.maxStaleness > 0 ? v.done + v.maxStaleness + 1 : v.done };
    return { type: 'continue' };
  }
  return v.done >= s.pauseAt ? { type: 'pause-here' } : { type: 'continue' };
}

/**
 * The metrics event of a slot claim: `took-over` when a generation of the run has started (the slot's peer
 * was trained by a worker before: one lost or gone, or the run's previous session), else `claimed` (the
 * first holder of a new run's slot).
 */
export function slotClaimEvent(state: { generation: number }): 'claimed' | 'took-over' {
  return state.generation > 0 ? 'took-over' : 'claimed';
}
