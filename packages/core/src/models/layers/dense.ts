import * as tf from '@tensorflow/tfjs-core';
import { uniformFanIn, zerosInit } from './init';
import type { ParamBuilder, ParamSlot } from './params';

/**
 * How a dense layer's bias is initialised: 'pytorch-default' is nn.Linear's U(±1/√in); 'zeros' is what the
 * TRADES/MART Wide-ResNet sets. The kernel is always nn.Linear's default, U(±1/√in).
 */
export type DenseBiasInit = 'pytorch-default' | 'zeros';

/** Fully connected layer y = x·W + b with W [in, out] (`<name>.kernel`) and b [out] (`<name>.bias`). */
export class Dense {
  readonly kernel: ParamSlot;
  readonly bias: ParamSlot;

  constructor(
    b: ParamBuilder,
    name: string,
    inFeatures: number,
    outFeatures: number,
    biasInit: DenseBiasInit = 'pytorch-default',
  ) {
    const layer = b.scope(name);
    this.kernel = layer.param('kernel', [inFeatures, outFeatures], uniformFanIn(inFeatures));
    const bias = biasInit === 'pytorch-default' ? uniformFanIn(inFeatures) : zerosInit;
    this.bias = layer.param('bias', [outFeatures], bias);
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.kernel.variable as tf.Tensor2D), this.bias.variable);
  }
}
