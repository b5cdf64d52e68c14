import * as tf from '@tensorflow/tfjs-core';
import type { ForwardMode } from '../model';
import { onesInit, zerosInit } from './init';
import type { ParamBuilder, ParamSlot } from './params';

/** PyTorch BatchNorm2d defaults. */
export const BN_MOMENTUM = 0.1;
export const BN_EPSILON = 1e-5;

/**
 * The fused batch norm + ReLU kernel @mat/native registers on its backends (its BATCH_NORM_RELU_KERNEL): same
 * inputs and attrs as FusedBatchNorm, output relu(batchNorm(x)), with its own gradient.
 */
export const BATCH_NORM_RELU_KERNEL = 'MatBatchNormRelu';

/**
 * Batch normalisation over N, H, W for NHWC input, with PyTorch semantics:
 *
 *   y = γ · (x − μ) / √(σ² + ε) + β,   ε = 1e-5
 *
 * - training: μ, σ² are the batch mean and biased variance (gradients flow through them).
 * - eval: μ, σ² are the running buffers.
 * - training + updateStats: after the batch statistics are computed, the buffers move towards them with
 *   momentum m = 0.1, using the *unbiased* batch variance as PyTorch does (n = N·H·W values per channel):
 *     running_mean ← (1 − m)·running_mean + m·μ
 *     running_var  ← (1 − m)·running_var  + m·σ²·n/(n − 1)
 *   Attacks call forward with `{ training: false }`, so they never touch the buffers.
 *
 * Names: `<name>.gamma`, `<name>.beta` (parameters), `<name>.runningMean`, `<name>.runningVar` (buffers).
 */
export class BatchNorm {
  readonly gamma: ParamSlot;
  readonly beta: ParamSlot;
  readonly runningMean: ParamSlot;
  readonly runningVar: ParamSlot;

  constructor(
    b: ParamBuilder,
    private readonly name: string,
    channels: number,
  ) {
    const layer = b.scope(name);
    this.gamma = layer.param('gamma', [channels], onesInit);
    this.beta = layer.param('beta', [channels], zerosInit);
    this.runningMean = layer.buffer('runningMean', [channels], zerosInit);
    this.runningVar = layer.buffer('runningVar', [channels], onesInit);
  }

  apply(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
    const gamma = this.gamma.variable as tf.Tensor1D;
    const beta = this.beta.variable as tf.Tensor1D;
    if (!mode.training) {
      const mean = this.runningMean.variable as tf.Tensor1D;
      const variance = this.runningVar.variable as tf.Tensor1D;
      return tf.batchNorm4d(x, mean, variance, beta, gamma, BN_EPSILON);
    }
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      if (mode.updateStats) this.updateRunningStats(mean as tf.Tensor1D, variance as tf.Tensor1D, x);
      return tf.batchNorm4d(x, mean as tf.Tensor1D, variance as tf.Tensor1D, beta, gamma, BN_EPSILON);
    });
  }

  /**
   * relu(apply(x, mode)). While the active backend has the fused kernel (the native one) this is one pass
   * forward and one backward (for the input; the parameter gradients share one more), with no batch-norm
   * output kept for the tape; elsewhere the two ops. Same values either way.
   */
  applyRelu(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
    if (!tf.getKernel(BATCH_NORM_RELU_KERNEL, tf.getBackend())) return tf.relu(this.apply(x, mode));
    const fused = (mean: tf.Tensor, variance: tf.Tensor) =>
      tf
        .engine()
        .runKernel(
          BATCH_NORM_RELU_KERNEL,
          { x, mean, variance, scale: this.gamma.variable, offset: this.beta.variable },
          { varianceEpsilon: BN_EPSILON },
        ) as tf.Tensor4D;
    if (!mode.training) return fused(this.runningMean.variable, this.runningVar.variable);
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      if (mode.updateStats) this.updateRunningStats(mean as tf.Tensor1D, variance as tf.Tensor1D, x);
      return fused(mean, variance);
    });
  }

  private updateRunningStats(mean: tf.Tensor1D, variance: tf.Tensor1D, x: tf.Tensor4D): void {
    const n = x.shape[0] * x.shape[1] * x.shape[2];
    if (n < 2) {
      throw new Error(
        `batch norm ${this.name}: updating running statistics needs more than 1 value per channel`,
      );
    }
    tf.tidy(() => {
      const m = BN_MOMENTUM;
      const rm = this.runningMean.variable;
      const rv = this.runningVar.variable;
      rm.assign(tf.add(tf.mul(rm, 1 - m), tf.mul(mean, m)));
      rv.assign(tf.add(tf.mul(rv, 1 - m), tf.mul(variance, (m * n) / (n - 1))));
    });
  }
}
