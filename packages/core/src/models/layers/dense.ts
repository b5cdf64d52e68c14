import * as tf from '@tensorflow/tfjs-core';
import { uniformFanIn } from './init';
import type { ParamBuilder, ParamSlot } from './params';

/** Fully connected layer y = x·W + b with W [in, out] (`<name>.kernel`) and b [out] (`<name>.bias`). */
export class Dense {
  readonly kernel: ParamSlot;
  readonly bias: ParamSlot;

  constructor(b: ParamBuilder, name: string, inFeatures: number, outFeatures: number) {
    const layer = b.scope(name);
    this.kernel = layer.param('kernel', [inFeatures, outFeatures], uniformFanIn(inFeatures));
    this.bias = layer.param('bias', [outFeatures], uniformFanIn(inFeatures));
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.kernel.variable as tf.Tensor2D), this.bias.variable);
  }
}
