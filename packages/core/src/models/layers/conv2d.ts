import * as tf from '@tensorflow/tfjs-core';
import { kaimingNormalFanOut, uniformFanIn } from './init';
import type { ParamBuilder, ParamSlot } from './params';

export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  /** @defaultValue 1 */
  stride?: number;
  /** @defaultValue false (the ResNets have none; fmnist-cnn has them) */
  bias?: boolean;
  /**
   * How the kernel is initialised (the bias, if any, always as PyTorch's default; see init.ts):
   * - 'pytorch-default': nn.Conv2d's default, U(±1/√fan_in) with fan_in = kh·kw·in;
   * - 'kaiming-normal-fan-out': N(0, 2 / (kh·kw·out)), as the TRADES/MART Wide-ResNet sets it.
   * @defaultValue 'pytorch-default'
   */
  init?: ConvInit;
}

export type ConvInit = 'pytorch-default' | 'kaiming-normal-fan-out';

/**
 * 2-D convolution, NHWC, kernel [kh, kw, in, out] (`<name>.kernel`, optional `<name>.bias`).
 *
 * Padding is PyTorch's `padding = (k - 1) / 2` on every side, given to tfjs as a number. tfjs 'same' would
 * differ for stride 2 on even sizes (it pads 0 before and 1 after), so it would not match the reference ResNets.
 */
export class Conv2d {
  readonly kernel: ParamSlot;
  readonly bias: ParamSlot | null;
  private readonly stride: number;
  private readonly pad: number;

  constructor(b: ParamBuilder, name: string, opts: Conv2dOptions) {
    const { inChannels, outChannels, kernelSize } = opts;
    if (kernelSize % 2 !== 1) throw new Error(`conv ${name}: kernel size must be odd, got ${kernelSize}`);
    const layer = b.scope(name);
    const fanIn = kernelSize * kernelSize * inChannels;
    const kernelInit =
      (opts.init ?? 'pytorch-default') === 'pytorch-default' ? uniformFanIn(fanIn) : kaimingNormalFanOut;
    this.kernel = layer.param('kernel', [kernelSize, kernelSize, inChannels, outChannels], kernelInit);
    this.bias = opts.bias ? layer.param('bias', [outChannels], uniformFanIn(fanIn)) : null;
    this.stride = opts.stride ?? 1;
    this.pad = (kernelSize - 1) / 2;
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    const y = tf.conv2d(x, this.kernel.variable as tf.Tensor4D, this.stride, this.pad);
    return this.bias === null ? y : tf.add(y, this.bias.variable);
  }
}
