import type * as tf from '@tensorflow/tfjs-core';
import { madryLoss } from './madry';
import { tradesLoss } from './trades';

/** What a base adversarial loss may need; `cleanLogits` and `beta` only for TRADES. */
export interface BaseLossInputs {
  /** f(x) on the clean batch. */
  cleanLogits?: tf.Tensor2D;
  /** f(x') on the adversarial batch. */
  advLogits: tf.Tensor2D;
  labels: tf.Tensor1D;
  /** TRADES β. */
  beta?: number;
}

export interface BaseLoss {
  readonly name: BaseLossName;
  /** The inner maximisation that goes with it (the attack's `loss` option, see attacks/attack-loss.ts). */
  readonly attackLoss: 'ce' | 'trades-kl';
  /** Whether `cleanLogits` must be given. */
  readonly needsCleanLogits: boolean;
  compute(inputs: BaseLossInputs): tf.Scalar;
}

export const BASE_LOSS_NAMES = ['madry', 'trades'] as const;
export type BaseLossName = (typeof BASE_LOSS_NAMES)[number];

/** The base losses a MAT peer can be trained with (before the distillation terms of `mat.ts`). */
export const BASE_LOSSES: Readonly<Record<BaseLossName, BaseLoss>> = {
  madry: {
    name: 'madry',
    attackLoss: 'ce',
    needsCleanLogits: false,
    compute: ({ advLogits, labels }) => madryLoss(advLogits, labels),
  },
  trades: {
    name: 'trades',
    attackLoss: 'trades-kl',
    needsCleanLogits: true,
    compute: ({ cleanLogits, advLogits, labels, beta }) => {
      if (!cleanLogits) throw new Error('trades loss needs cleanLogits = f(x)');
      if (beta === undefined) throw new Error('trades loss needs beta');
      return tradesLoss(cleanLogits, advLogits, labels, beta);
    },
  },
};

/** Looks a base loss up by name, with an error listing the known names. */
export function getBaseLoss(name: string): BaseLoss {
  if (!(BASE_LOSS_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown base loss '${name}'; known: ${BASE_LOSS_NAMES.join(', ')}`);
  }
  return BASE_LOSSES[name as BaseLossName];
}
