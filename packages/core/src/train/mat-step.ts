import * as tf from '@tensorflow/tfjs-core';
import { createAttack } from '../attacks';
import type { RunConfig } from '../config/schema';
import { trainingAttackSpec } from './attack-config';
import type { Peer } from './peer';
import { TEACHER_MODE } from './peer';
import { peerLoss } from './mat-loss-terms';
import { attackRng } from './streams';

export interface PeerStepMetrics {
  peer: number;
  loss: number;
  base: number;
  distill: number;
  /** Accuracy of the peer on its own adversarial examples of this batch (before the update). */
  advAccuracy: number;
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
  const { x, y } = batch;
  const spec = trainingAttackSpec(config.attack, config.method.base);

  // 1. Attack: each peer crafts x_i' from the same clean batch, against itself.
  const advs = peers.map((p) =>
    createAttack(spec, attackRng(config.seed, p.index, step)).attack(p.model, x, y),
  );

  // 2. Teacher outputs: labels[j][i] = f_j(x_i'), detached, all before any update.
  const labels = peers.map((teacher) =>
    advs.map((adv) => tf.tidy(() => teacher.model.forward(adv, TEACHER_MODE))),
  );

  // 3. Loss and update, peer by peer.
  const metrics = peers.map((peer, i) => {
    const others = peers.map((_, j) => j).filter((j) => j !== i);
    const inputs = {
      x,
      y,
      ownAdv: advs[i],
      peerAdvs: others.map((j) => advs[j]),
      ownTeachers: others.map((j) => labels[j][i]),
      peerTeachers: others.map((j) => labels[j][j]),
    };
    const byVariable = new Map(peer.model.params.map((p) => [p.variable.name, p.name]));
    let kept: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(
      () => {
        const parts = peerLoss(peer.model, inputs, config.method);
        kept = [parts.base, parts.distill, correctFraction(parts.ownLogits, y)].map((t) => tf.keep(t));
        return parts.total;
      },
      peer.model.params.map((p) => p.variable),
    );
    const gradsByName: Record<string, tf.Tensor> = {};
    for (const [varName, grad] of Object.entries(grads))
      gradsByName[byVariable.get(varName) ?? varName] = grad;
    peer.optimizer.step(gradsByName, lr);

    const [base, distill, acc] = kept.map((t) => t.dataSync()[0]);
    const m: PeerStepMetrics = {
      peer: peer.index,
      loss: value.dataSync()[0],
      base,
      distill,
      advAccuracy: acc,
    };
    tf.dispose([value, ...Object.values(grads), ...kept]);
    return m;
  });

  tf.dispose([...advs, ...labels.flat()]);
  return metrics;
}

function correctFraction(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')), 'float32')));
}
