import type * as tf from '@tensorflow/tfjs-core';
import type { ParamBuilder } from './layers/params';
import type { ForwardMode } from './model';

/** Options an architecture is built from, after the registry has filled in defaults and validated them. */
export interface ArchOptions {
  numClasses: number;
  /** [height, width, channels] */
  inputShape: [number, number, number];
  /** wide-resnet only */
  depth?: number;
  /** wide-resnet only */
  widen?: number;
}

/** The computation of a built architecture; input normalisation and shape checks are done by the caller. */
export interface Network {
  forward(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor2D;
  /** See Model.flattenedInputs. */
  flattenedInputs?: Record<string, [number, number, number]>;
}

/** One entry of the model registry: every architecture has this same shape. */
export interface ArchDefinition {
  readonly name: string;
  readonly description: string;
  readonly defaultInputShape: [number, number, number];
  /** Architecture-specific options it accepts (any other given option is an error). */
  readonly extraOptions: readonly ('depth' | 'widen')[];
  /** Declares the weights on `b` (allocating nothing) and returns the forward computation. */
  build(b: ParamBuilder, options: ArchOptions): Network;
}
