import * as tf from '@tensorflow/tfjs-core';
import type { RunConfig } from '../config/schema';
import { peerLoss, type PeerLossInputs } from './mat-loss-terms';
import type { Peer } from './peer';
import { TEACHER_MODE } from './peer';
import { craftPerturbations } from './perturbations';
import { assertFiniteMetrics, assertFinitePeer, assertFiniteTensor } from './divergence';
import { labelRowsOf, teacherPlan } from './teacher-plan';

export interface PeerStepMetrics {
  peer: number;
  loss: number;
  base: number;
  distill: number;
  /** Accuracy of the peer on its own adversarial examples of this batch (before the update). */
  advAccuracy: number;
}

/**
 * The three phases of a MAT step for one peer. The in-process trainer runs them for all peers below; a
 * distributed worker runs them for its own peer and exchanges the results between phases.
 */

/**
 * Phase 1: x_i', the peer's adversarial examples of the shared clean batch, crafted against itself — with
 * `config.attack`, or with the peer's MAT-MP perturbation types (perturbations.ts; for `average` x_i'
 * stacks one batch per type, and every later phase handles that).
 */
export function craftAdversarial(
  peer: Peer,
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  config: RunConfig,
  step: number,
): tf.Tensor4D {
  return craftPerturbations(peer, batch, config, step);
}

/** Phase 2: the peer's detached outputs f_i(x_j') on every peer's adversarial examples (its teacher labels). */
export function teacherOutputs(peer: Peer, advs: readonly tf.Tensor4D[]): tf.Tensor2D[] {
  return advs.map((adv) => tf.tidy(() => peer.model.forward(adv, TEACHER_MODE)));
}

/** Phase 3: the MAT loss of the peer from its teachers' outputs, and one optimizer update. */
export function updatePeer(
  peer: Peer,
  inputs: PeerLossInputs,
  method: RunConfig['method'],
  lr: number,
): PeerStepMetrics {
  const byVariable = new Map(peer.model.params.map((p) => [p.variable.name, p.name]));
  let kept: tf.Tensor[] = [];
  const { value, grads } = tf.variableGrads(
    () => {
      const parts = peerLoss(peer.model, inputs, method);
      kept = [parts.base, parts.distill, correctFraction(parts.ownLogits, parts.labels)].map((t) =>
        tf.keep(t),
      );
      return parts.total;
    },
    peer.model.params.map((p) => p.variable),
  );
  const gradsByName: Record<string, tf.Tensor> = {};
  for (const [varName, grad] of Object.entries(grads)) gradsByName[byVariable.get(varName) ?? varName] = grad;
  peer.optimizer.step(gradsByName, lr);

  const [base, distill, advAccuracy] = kept.map((t) => t.dataSync()[0]);
  const metrics = { peer: peer.index, loss: value.dataSync()[0], base, distill, advAccuracy };
  tf.dispose([value, ...Object.values(grads), ...kept]);
  return metrics;
}

/** The method at `step`: λ_own and λ_peer scaled by the distillation warm-up ramp. */
export function methodAtStep(method: RunConfig['method'], step: number): RunConfig['method'] {
  const warmup = method.distillWarmupSteps;
  if (warmup <= 0 || step >= warmup) return method;
  const ramp = step / warmup;
  return { ...method, lambdaOwn: method.lambdaOwn * ramp, lambdaPeer: method.lambdaPeer * ramp };
}

/**
 * One synchronous MAT step of all peers held by this process. It is the reference the distributed
 * runtime reproduces: every teacher output is computed before any peer updates.
 */
export function matStep(
  peers: readonly Peer[],
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  ctx: { config: RunConfig; step: number; lr: number },
): PeerStepMetrics[] {
  const { config, step, lr } = ctx;
  const plan = teacherPlan(config, step);
  // Divergence is caught where it arises, named by peer and step (1-based, as in metrics.jsonl): the
  // distributed step checks the same quantities before it publishes them (DivergenceError).
  const number = step + 1;
  const owned: tf.Tensor[] = [];
  try {
    // 1. Attack: each peer crafts x_i' from the same clean batch, against itself.
    const advs = peers.map((peer) => {
      const adv = craftAdversarial(peer, batch, config, step);
      owned.push(adv);
      assertFiniteTensor(adv, peer.index, number, 'adversarial examples');
      return adv;
    });

    // 2. Teacher outputs: label(j, k) = f_j(x_k'), detached, all before any update — only the pairs some
    //    student of j needs (all pairs without peer sampling).
    const labels = peers.map((peer, j) => {
      const rows = labelRowsOf(plan, j);
      const outputs = teacherOutputs(
        peer,
        rows.map((k) => advs[k]),
      );
      owned.push(...outputs);
      for (const t of outputs) assertFiniteTensor(t, peer.index, number, 'teacher logits');
      return new Map(rows.map((k, r) => [k, outputs[r]]));
    });
    const label = (j: number, k: number) => labels[j].get(k)!;

    // 3. Loss and update, peer by peer.
    return peers.map((peer, i) => {
      const teachers = plan.teachers[i];
      const metrics = updatePeer(
        peer,
        {
          x: batch.x,
          y: batch.y,
          ownAdv: advs[i],
          peerAdvs: teachers.map((j) => advs[j]),
          ownTeachers: teachers.map((j) => label(j, i)),
          peerTeachers: teachers.map((j) => label(j, j)),
        },
        methodAtStep(config.method, step),
        lr,
      );
      assertFiniteMetrics(metrics, peer.index, number);
      assertFinitePeer(peer, number);
      return metrics;
    });
  } finally {
    tf.dispose(owned);
  }
}

function correctFraction(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')), 'float32')));
}
