import * as tf from '@tensorflow/tfjs-core';
import { attackObjective, createAttack } from '../attacks';
import type { AttackConfig, RunConfig } from '../config/schema';
import { EVAL_MODE } from '../models/model';
import { describeAttack, trainingAttackSpec } from './attack-config';
import type { Peer } from './peer';
import { attackRng, perturbationChoiceRng } from './streams';

/**
 * How peer i's adversarial batch x_i' is made at one step.
 * - `one`: a single attack; x_i' has the clean batch's size B.
 * - `stack`: every type, x_i' = [x'_type0; x'_type1; …] (type-major, k·B rows); the losses, which are batch
 *   means, then average over the types (`average`).
 * - `worst`: every type, and per sample the example of highest attack loss (`max`); B rows.
 */
export interface PerturbationPlan {
  /** Indices into `mp.attacks` (or [0] for the single `attack`). */
  types: number[];
  attacks: AttackConfig[];
  combine: 'one' | 'stack' | 'worst';
}

/**
 * The perturbation types peer `peer` trains against at step `step`. Depends only on (config, peer, step),
 * so a resumed run and a distributed worker make the same choice as an uninterrupted in-process run.
 */
export function perturbationPlan(config: RunConfig, peer: number, step: number): PerturbationPlan {
  const { mp } = config;
  if (!mp) return { types: [0], attacks: [config.attack], combine: 'one' };
  const all = mp.attacks.map((_, t) => t);
  switch (mp.strategy) {
    case 'fixed': {
      const t = peer % mp.attacks.length;
      return { types: [t], attacks: [mp.attacks[t]], combine: 'one' };
    }
    case 'random': {
      const t = perturbationChoiceRng(config.seed, peer, step).int(mp.attacks.length);
      return { types: [t], attacks: [mp.attacks[t]], combine: 'one' };
    }
    case 'average':
      return { types: all, attacks: mp.attacks, combine: 'stack' };
    case 'max':
      return { types: all, attacks: mp.attacks, combine: 'worst' };
  }
}

/**
 * Phase 1 of a MAT step for one peer: x_i', crafted against the peer itself from the shared clean batch,
 * following its perturbation plan. Returns a tensor owned by the caller ([k·B, …] for `average`).
 */
export function craftPerturbations(
  peer: Peer,
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  config: RunConfig,
  step: number,
): tf.Tensor4D {
  const plan = perturbationPlan(config, peer.index, step);
  const craft = (attack: AttackConfig, type: number) => {
    const spec = trainingAttackSpec(attack, config.method.base);
    // A run without mp keeps the original stream of its single attack.
    const rng = attackRng(config.seed, peer.index, step, config.mp ? type : undefined);
    return createAttack(spec, rng).attack(peer.model, batch.x, batch.y);
  };
  const advs = plan.attacks.map((attack, k) => craft(attack, plan.types[k]));
  if (plan.combine === 'one') return advs[0];
  try {
    if (plan.combine === 'stack') return tf.concat(advs, 0);
    return worstPerSample(peer, batch, config, advs);
  } finally {
    tf.dispose(advs);
  }
}

/**
 * Per sample, the example with the highest attack objective (the loss the training attack maximises: CE
 * for Madry, KL(f(x) ‖ f(x')) for TRADES), evaluated like the attacks in eval mode. Ties go to the earlier type.
 */
function worstPerSample(
  peer: Peer,
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  config: RunConfig,
  advs: tf.Tensor4D[],
): tf.Tensor4D {
  const loss = config.method.base === 'trades' ? 'trades-kl' : 'ce';
  return tf.tidy(() => {
    const labels = tf.cast(batch.y, 'int32') as tf.Tensor1D;
    const clean = loss === 'trades-kl' ? peer.model.forward(batch.x, EVAL_MODE) : undefined;
    let best = advs[0];
    let bestLoss = attackObjective(loss, peer.model.forward(advs[0], EVAL_MODE), labels, clean);
    for (const adv of advs.slice(1)) {
      const l = attackObjective(loss, peer.model.forward(adv, EVAL_MODE), labels, clean);
      const better = tf.greater(l, bestLoss);
      best = tf.where(tf.reshape(better, [-1, 1, 1, 1]), adv, best) as tf.Tensor4D;
      bestLoss = tf.where(better, l, bestLoss) as tf.Tensor1D;
    }
    return advs.length === 1 ? tf.clone(best) : best;
  });
}

/**
 * Rows of x_i' per clean sample for a run: the number of types under MAT-MP `average`, else 1. A transport
 * that checks message shapes expects x_i' as [k·B, H, W, C] and teacher outputs as [k·B, classes].
 */
export function adversarialRowsPerSample(config: RunConfig): number {
  return config.mp?.strategy === 'average' ? config.mp.attacks.length : 1;
}

/** How many perturbation types x_i' stacks: its rows over the clean batch's (1 unless `average`). */
export function stackedTypes(adv: tf.Tensor4D, x: tf.Tensor4D): number {
  const k = adv.shape[0] / x.shape[0];
  if (!Number.isInteger(k) || k < 1) {
    throw new Error(
      `adversarial batch of ${adv.shape[0]} rows is not a whole number of clean batches of ${x.shape[0]}`,
    );
  }
  return k;
}

/** e.g. "MAT-MP average over PGD-10 linf eps 0.1, PGD-10 l2 eps 1.5", or describeAttack of the one attack. */
export function describePerturbations(config: RunConfig): string {
  if (!config.mp) return describeAttack(config.attack);
  return `MAT-MP ${config.mp.strategy} over ${config.mp.attacks.map(describeAttack).join(', ')}`;
}

/**
 * e.g. "madry + MAT (λ_own 1, λ_peer 1, τ 1)", "madry + MAT (…, 2 sampled teachers per step)", or
 * "madry adversarial training" for a single peer (no one to distil from).
 */
export function describeMethod(config: RunConfig): string {
  const { base, lambdaOwn, lambdaPeer, tau, peerSample } = config.method;
  if (config.peers === 1) return `${base} adversarial training`;
  const sampled = peerSample !== undefined ? `, ${peerSample} sampled teacher(s) per step` : '';
  return `${base} + MAT (λ_own ${lambdaOwn}, λ_peer ${lambdaPeer}, τ ${tau}${sampled})`;
}
