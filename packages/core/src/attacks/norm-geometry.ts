import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';
import type { Norm } from './attack';

/**
 * The norm-specific half of a gradient attack; the loop around it (attack-loop.ts) is the same for all.
 * All tensors are [batch, H, W, C]; "per sample" means over H·W·C.
 */
export interface NormGeometry {
  readonly norm: Norm;
  /** A random δ₀ (not yet clipped to the box) for each of `batch` samples of `dim` values, from `rng`. */
  randomStart(batch: number, dim: number, eps: number, rng: Rng): Float32Array;
  /** The steepest-ascent step of norm `stepSize` for gradient `grad` taken at `xAdv`. */
  ascentStep(grad: tf.Tensor4D, xAdv: tf.Tensor4D, stepSize: number): tf.Tensor4D;
  /** A point of {x' : ‖x' − x‖_p ≤ eps, 0 ≤ x' ≤ 1} near `xAdv` (the projection, or projection then clip). */
  project(xAdv: tf.Tensor4D, x: tf.Tensor4D, eps: number): tf.Tensor4D;
}
