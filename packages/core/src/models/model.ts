import * as tf from '@tensorflow/tfjs-core';

/**
 * How a forward pass treats batch norm.
 * - `training: true`: normalise with the batch's own statistics (gradients flow through them).
 * - `training: false`: normalise with the running statistics (eval mode).
 * - `updateStats` (only with `training: true`): fold the batch statistics into the running averages.
 *   Attacks never set it, so crafting adversarial examples leaves a model's state untouched.
 */
export interface ForwardMode {
  training: boolean;
  updateStats?: boolean;
}

export const EVAL_MODE: ForwardMode = { training: false };
export const TRAIN_MODE: ForwardMode = { training: true, updateStats: true };

export interface NamedVariable {
  /** Stable name, e.g. `block1.conv1.kernel`; used as the key in weight files and checkpoints. */
  name: string;
  variable: tf.Variable;
}

/**
 * A classifier on images in [0, 1], NHWC. Any input normalisation (mean/std) is inside the model so that
 * attacks work in the pixel box [0, 1].
 */
export interface Model {
  /** Architecture name as registered, e.g. `fmnist-cnn`. */
  readonly arch: string;
  /** [height, width, channels] of one input image. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Trainable weights in a fixed order. */
  readonly params: readonly NamedVariable[];
  /** Non-trainable state (batch-norm running mean and variance), in a fixed order. */
  readonly buffers: readonly NamedVariable[];
  /**
   * Dense kernels (by parameter name) whose input rows are an NHWC flatten of a [h, w, c] feature map. PyTorch
   * flattens NCHW, so the PyTorch weight exporter permutes these rows (docs/weights-format.md). Optional.
   */
  readonly flattenedInputs?: Readonly<Record<string, readonly [number, number, number]>>;
  /** Logits [batch, numClasses] for x [batch, H, W, C]. */
  forward(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor2D;
  dispose(): void;
}
