import * as tf from '@tensorflow/tfjs-core';

export interface NormalizeOptions {
  /** Per-channel mean, e.g. CIFAR-10 [0.4914, 0.4822, 0.4465]. */
  mean: number[];
  /** Per-channel standard deviation, all > 0. */
  std: number[];
}

/** Throws an Error naming the problem unless mean/std have one finite value per channel and std > 0. */
export function validateNormalize(opts: NormalizeOptions, channels: number): void {
  const { mean, std } = opts;
  if (!Array.isArray(mean) || !Array.isArray(std) || mean.length !== channels || std.length !== channels) {
    throw new Error(`normalize: mean and std must each have ${channels} values (one per input channel)`);
  }
  if (!mean.every(Number.isFinite) || !std.every((s) => Number.isFinite(s) && s > 0)) {
    throw new Error(`normalize: mean must be finite and std finite and > 0, got mean=${mean} std=${std}`);
  }
}

/**
 * x' = (x − mean) / std per channel, as the first step inside a model, so that the model's input — and so the
 * box attacks project onto — stays the pixel range [0, 1]. Holds two small constant tensors; call dispose().
 */
export class InputNormalization {
  private readonly mean: tf.Tensor1D;
  private readonly std: tf.Tensor1D;

  constructor(opts: NormalizeOptions, channels: number) {
    validateNormalize(opts, channels);
    const { mean, std } = opts;
    this.mean = tf.tensor1d(mean);
    this.std = tf.tensor1d(std);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.div(tf.sub(x, this.mean), this.std);
  }

  dispose(): void {
    this.mean.dispose();
    this.std.dispose();
  }
}
