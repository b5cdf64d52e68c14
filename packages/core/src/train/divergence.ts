import * as tf from '@tensorflow/tfjs-core';
import type { Peer } from './peer';

/**
 * What a run does when a peer diverges (a non-finite loss, logits, adversarial examples or weights):
 *   - 'fail': the run ends, status failed, with a reason naming the peer and the step;
 *   - 'rollback': every peer goes back to the last committed checkpoint and trains on; a second divergence
 *     at the same step (or an earlier one) after that rollback fails the run, so it never loops forever.
 */
export type DivergencePolicy = 'fail' | 'rollback';

/** What diverged: the quantity of peer `peer` found non-finite while taking step `step` (1-based). */
export class DivergenceError extends Error {
  constructor(
    readonly peer: number,
    /** The step being taken, 1-based (the step number of its metrics line). */
    readonly step: number,
    readonly quantity: string,
  ) {
    super(`peer ${peer} diverged at step ${step}: its ${quantity} is not finite (NaN or Infinity)`);
    this.name = 'DivergenceError';
  }
}

/** A divergence as it travels between processes (worker → coordinator, child → parent). */
export interface DivergenceReport {
  peer: number;
  step: number;
  reason: string;
}

export function isDivergenceReport(x: unknown): x is DivergenceReport {
  const r = x as DivergenceReport;
  return (
    typeof r === 'object' &&
    r !== null &&
    Number.isInteger(r.peer) &&
    Number.isInteger(r.step) &&
    typeof r.reason === 'string'
  );
}

export function divergenceReport(err: DivergenceError): DivergenceReport {
  return { peer: err.peer, step: err.step, reason: err.message };
}

/** Throws a DivergenceError unless every value of `t` is finite. */
export function assertFiniteTensor(t: tf.Tensor, peer: number, step: number, quantity: string): void {
  const finite = tf.tidy(() => tf.all(tf.isFinite(t)).dataSync()[0]);
  if (!finite) throw new DivergenceError(peer, step, quantity);
}

/** Throws a DivergenceError unless every weight, batch-norm buffer and momentum buffer of `peer` is finite. */
export function assertFinitePeer(peer: Peer, step: number): void {
  const variables = [...peer.model.params, ...peer.model.buffers, ...peer.optimizer.state()].map(
    (v) => v.variable,
  );
  if (variables.length === 0) return;
  // One read-back for all of them: a step's cost is dominated by its forward and backward passes.
  const finite = tf.tidy(() => tf.all(tf.stack(variables.map((v) => tf.all(tf.isFinite(v))))).dataSync()[0]);
  if (!finite) throw new DivergenceError(peer.index, step, 'weights after the update');
}

/** Throws a DivergenceError unless every number of a step's metrics is finite. */
export function assertFiniteMetrics(
  metrics: { loss: number; base: number; distill: number },
  peer: number,
  step: number,
): void {
  for (const key of ['loss', 'base', 'distill'] as const) {
    if (!Number.isFinite(metrics[key]))
      throw new DivergenceError(peer, step, `${key} loss (${metrics[key]})`);
  }
}

export type DivergenceDecision =
  { action: 'fail'; reason: string } | { action: 'rollback'; toStep: number; reason: string };

/**
 * The decision on a divergence, the same in every runtime. `previous` is the step of the divergence that
 * caused the last rollback of this run, if any; `checkpointStep` the step of the last committed checkpoint
 * (0: the initial state).
 */
export function decideOnDivergence(opts: {
  policy: DivergencePolicy;
  divergence: DivergenceReport;
  previous: number | undefined;
  checkpointStep: number;
}): DivergenceDecision {
  const { policy, divergence, previous, checkpointStep } = opts;
  if (policy === 'fail') return { action: 'fail', reason: divergence.reason };
  if (previous !== undefined && divergence.step <= previous) {
    return {
      action: 'fail',
      reason: `${divergence.reason}; it diverged again after a rollback from step ${previous} to the checkpoint at step ${checkpointStep}`,
    };
  }
  return {
    action: 'rollback',
    toStep: checkpointStep,
    reason: `${divergence.reason}; rolling back to the checkpoint at step ${checkpointStep}`,
  };
}
