import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../models/model';

export type Norm = 'linf' | 'l2' | 'l1';

/** Reports an attack's progress: `done` of `total` units (iterations or queries; targets × restarts × steps). */
export type AttackProgress = (done: number, total: number) => void;

/**
 * Every attack has the same call shape: `attack(model, x, y)` returns adversarial examples with the shape
 * of x, inside the pixel box [0, 1] and inside the attack's eps-ball around x. Inputs are not disposed;
 * the caller owns the result.
 */
export interface Attack {
  readonly name: string;
  readonly norm: Norm;
  readonly eps: number;
  attack(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor4D;
}
