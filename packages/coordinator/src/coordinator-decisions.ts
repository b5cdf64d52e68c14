import { decideOnDivergence, type DivergencePolicy } from '@mat/core';
import type { RunState } from '@mat/exchange';

/**
 * The coordinator's decisions, as a pure function of what it sees (run status × slots × time): the
 * coordinator (./coordinator.ts) reads the run, calls decideCoordinator and carries the actions out, in
 * order. Table-tested without Redis or processes (test/coordinator/coordinator-decisions.test.ts).
 */

/** One look at the run, as the coordinator's tick reads it. */
export interface RunView {
  /** The run's state in Redis; undefined when Redis lost it, or when it cannot be read (`unreadable`). */
  state: RunState | undefined;
  /** The state is in Redis but malformed (a ContractError): why, and since when (ms epoch) it has been. */
  unreadable?: { reason: string; since: number };
  /** Slots held by a live lease (expired ones were removed first). */
  held: number;
  /** Workers found lost (lease run out) at this look; their slots may already be held again by a spare. */
  lost: number;
  /** Steps done by the peers of the held slots (-1 before a peer's first step). */
  slotSteps: readonly number[];
  /** Some holder of a slot is leaving (SIGTERM: its status is 'stopping'). */
  holderLeaving: boolean;
  /** The coordinator's clock (ms epoch). */
  now: number;
  /** Since when (ms epoch) the slowest peer's step and the generation have been what they are now. */
  progressSince: number;
  /** The longest last step time (ms) among the slots' workers; 0 when none has taken a step yet. */
  slowestStepMs: number;
  /** The checkpoint step the last stall restarted the run from, if it stalled before (this coordinator's look). */
  stalledFrom?: number;
}

export interface CoordinatorPolicy {
  /** How long a stop may wait for every peer to reach a common step before it is forced. */
  stopGraceMs: number;
  /** How long the state may stay unreadable before the run is registered again from its directory. */
  unreadableGraceMs: number;
  onDivergence: DivergencePolicy;
  /**
   * How long every slot may be held with no peer taking a step before the run is restarted from its last
   * checkpoint: at least this, and at least STALL_STEPS times the slowest peer's last step.
   */
  stallGraceMs: number;
}

/** The slowest held slot's step (-1 before its first step, or when no slot is held). */
export function slowestStep(slotSteps: readonly number[]): number {
  return slotSteps.length > 0 ? Math.min(...slotSteps) : -1;
}

/** A stall is this many of the slowest peer's step times without a step (and at least stallGraceMs). */
export const STALL_STEPS = 20;

export type CoordinatorAction =
  /** Redis lost the run (restart without persistence): register it again from the run directory. */
  | { type: 'register' }
  /**
   * The state has been malformed for a while (no process of the run can act on it: a forged or damaged
   * write): replace it by registering the run again from its directory, as if Redis had lost it.
   */
  | { type: 'replace-unreadable'; reason: string }
  /** The run has ended (whoever ended it): stop watching it. */
  | { type: 'end'; status: 'finished' | 'stopped' | 'failed' }
  /** End the run as failed: summary.json and the run's state give the reason. */
  | { type: 'fail'; reason: string }
  /**
   * Every slot is held and no peer has taken a step for a stall's time (a message lost to a Redis that
   * crashed, a peer blocked on something that never comes): every peer starts again from the last
   * committed checkpoint. A second stall from the same checkpoint fails the run instead.
   */
  | { type: 'restart-stalled'; reason: string }
  /** A peer diverged: every peer starts again from the last committed checkpoint. */
  | { type: 'rollback'; reason: string; divergedAt: number }
  /** A slot is free (a worker was lost or left): the run waits for a worker to take it. */
  | { type: 'wait-for-workers' }
  /** Every slot is held: all peers start together from the newest committed checkpoint. */
  | { type: 'next-generation' }
  /** The slowest peer's step, for `mat status`. */
  | { type: 'record-step'; step: number }
  /** End the run as stopped at its last committed checkpoint; `forced` when the peers did not get there. */
  | { type: 'stop'; forced: boolean }
  /** Training is over: collect the final evaluations. */
  | { type: 'check-evaluations' };

const TERMINAL = ['finished', 'stopped', 'failed'] as const;

export function decideCoordinator(view: RunView, policy: CoordinatorPolicy): CoordinatorAction[] {
  const { state, unreadable } = view;
  if (unreadable)
    return view.now - unreadable.since >= policy.unreadableGraceMs
      ? [{ type: 'replace-unreadable', reason: unreadable.reason }]
      : [];
  if (!state) return [{ type: 'register' }];
  const terminal = TERMINAL.find((t) => t === state.status);
  if (terminal) return [{ type: 'end', status: terminal }];

  // A divergence of the current generation (an older one's was already acted on).
  const d = state.divergence;
  if (d && (d.generation === state.generation || d.generation < 0) && state.status !== 'evaluating') {
    const decision = decideOnDivergence({
      policy: d.generation < 0 ? 'fail' : policy.onDivergence,
      divergence: d,
      previous: state.rolledBackFrom,
      checkpointStep: state.checkpointStep,
    });
    return decision.action === 'fail'
      ? [{ type: 'fail', reason: decision.reason }]
      : [{ type: 'rollback', reason: decision.reason, divergedAt: d.step }];
  }

  if (state.stopRequested && state.status !== 'evaluating') {
    // Nobody trains (a slot is free, or between generations): the last committed checkpoint is where it stops.
    if (state.status !== 'running') return [{ type: 'stop', forced: false }];
    if (state.pauseAt !== undefined && state.checkpointStep >= state.pauseAt)
      return [{ type: 'stop', forced: false }];
    const since = state.stopRequestedAt ?? state.updatedAt;
    if (view.now - since > policy.stopGraceMs) return [{ type: 'stop', forced: true }];
  }

  const active = state.status === 'running' || state.status === 'paused';
  // A lost worker ends its generation even when a spare (or the same container, restarted) claimed the
  // freed slot between the expiry and the read of the slots: the spare starts from the last committed
  // checkpoint, so every peer must roll back with it.
  if (active && (view.lost > 0 || view.held < state.peers)) return [{ type: 'wait-for-workers' }];
  if (state.status === 'waiting') return view.held >= state.peers ? [{ type: 'next-generation' }] : [];
  if (state.status === 'running') {
    // A pause (a worker left) whose checkpoint is committed, every slot held by a worker that stays.
    const pauseSettled =
      state.pauseAt !== undefined &&
      !state.stopRequested &&
      state.checkpointStep >= state.pauseAt &&
      !view.holderLeaving;
    if (pauseSettled) return [{ type: 'next-generation' }];
    const steps = view.slotSteps.filter((s) => s >= 0);
    const step = steps.length === state.peers ? Math.min(...steps) : state.step;
    if (step !== state.step) return [{ type: 'record-step', step }];
    return decideStall(view, state, policy);
  }
  if (state.status === 'evaluating') return [{ type: 'check-evaluations' }];
  return [];
}

/**
 * Running, every slot held, and the slowest peer's step has not moved for a stall's time, although every
 * peer has a step left before the end or a pause. Nothing else would ever end that wait (every lease is
 * renewed by a heartbeat thread that does not care whether its peer trains), so the run restarts from its
 * last committed checkpoint — or fails with the reason when it stalled from that checkpoint before.
 */
function decideStall(view: RunView, state: RunState, policy: CoordinatorPolicy): CoordinatorAction[] {
  if (state.stopRequested) return []; // a stop has its own grace
  const minStep = slowestStep(view.slotSteps);
  if (minStep >= (state.pauseAt ?? state.lastStep)) return []; // waiting for the commit, not for a step
  const limitMs = Math.max(policy.stallGraceMs, STALL_STEPS * view.slowestStepMs);
  const stalledMs = view.now - view.progressSince;
  if (stalledMs < limitMs) return [];
  const at = minStep < 0 ? `its first step of generation ${state.generation}` : `step ${minStep}`;
  const what =
    `no peer got past ${at} for ${(stalledMs / 1000).toFixed(0)} s ` +
    `(the limit: ${(limitMs / 1000).toFixed(0)} s, at least ${STALL_STEPS} of the slowest peer's last step)`;
  if (view.stalledFrom === state.checkpointStep)
    return [
      {
        type: 'fail',
        reason: `the run stalled twice from the checkpoint at step ${state.checkpointStep}: ${what}; the workers' logs say where they wait`,
      },
    ];
  return [
    {
      type: 'restart-stalled',
      reason: `${what}: every peer starts again from the checkpoint at step ${state.checkpointStep}`,
    },
  ];
}
