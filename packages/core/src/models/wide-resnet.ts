import * as tf from '@tensorflow/tfjs-core';
import type { ArchDefinition } from './arch';
import { BatchNorm } from './layers/batch-norm';
import { Conv2d } from './layers/conv2d';
import { Dense } from './layers/dense';
import type { ParamBuilder } from './layers/params';
import type { ForwardMode } from './model';

export const WRN_DEFAULT_DEPTH = 34;
export const WRN_DEFAULT_WIDEN = 10;

/**
 * The TRADES/MART WideResNet initialises every convolution Kaiming-normal fan_out and zeroes the `fc` bias (its
 * weight keeps nn.Linear's default), unlike the ResNets, which keep PyTorch's defaults throughout.
 */
const WRN_CONV_INIT = 'kaiming-normal-fan-out' as const;

/**
 * Wide-ResNet block as in the TRADES code: pre-activation, and when the channel count changes the shortcut is a
 * 1×1 strided conv (`convShortcut`) applied to the *activated* input:
 *   equal in/out:  y = x + conv2(ReLU(bn2(conv1(ReLU(bn1(x))))))
 *   otherwise:     a = ReLU(bn1(x));  y = convShortcut(a) + conv2(ReLU(bn2(conv1(a))))
 * No dropout (dropRate 0, the TRADES/MART setting).
 */
class WideBlock {
  private readonly bn1: BatchNorm;
  private readonly conv1: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly convShortcut: Conv2d | null;

  constructor(b: ParamBuilder, inPlanes: number, outPlanes: number, stride: number) {
    this.bn1 = new BatchNorm(b, 'bn1', inPlanes);
    this.conv1 = new Conv2d(b, 'conv1', {
      inChannels: inPlanes,
      outChannels: outPlanes,
      kernelSize: 3,
      stride,
      init: WRN_CONV_INIT,
    });
    this.bn2 = new BatchNorm(b, 'bn2', outPlanes);
    this.conv2 = new Conv2d(b, 'conv2', {
      inChannels: outPlanes,
      outChannels: outPlanes,
      kernelSize: 3,
      init: WRN_CONV_INIT,
    });
    this.convShortcut =
      inPlanes === outPlanes
        ? null
        : new Conv2d(b, 'convShortcut', {
            inChannels: inPlanes,
            outChannels: outPlanes,
            kernelSize: 1,
            stride,
            init: WRN_CONV_INIT,
          });
  }

  apply(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
    const a = this.bn1.applyRelu(x, mode);
    const y = this.conv2.apply(this.bn2.applyRelu(this.conv1.apply(a), mode));
    return tf.add(this.convShortcut === null ? x : this.convShortcut.apply(a), y);
  }
}

/**
 * WRN-depth-widen (Zagoruyko & Komodakis 2016) as in the TRADES/MART code, default WRN-34-10 (46,160,474
 * parameters for 10 classes). depth = 6n + 4: stem 3×3 conv to 16 channels, three groups (`block1..3`, blocks
 * `blockK.layer.i`) of n blocks at 16·widen, 32·widen, 64·widen channels with strides 1, 2, 2, final BN + ReLU
 * (`bn1`), global average pool, `fc`.
 *
 * Initialised as the TRADES file does (WRN_CONV_INIT, zero `fc` bias; docs/models.md).
 *
 * Unlike the TRADES file, there is no `sub_block1`: TRADES declares it but never runs it, so its weights are dead
 * (drop `sub_block1.*` when importing a TRADES checkpoint).
 */
export const wideResnet: ArchDefinition = {
  name: 'wide-resnet',
  description: 'Wide-ResNet depth-widen (default WRN-34-10), options depth and widen',
  defaultInputShape: [32, 32, 3],
  extraOptions: ['depth', 'widen'],
  build(b, { numClasses, inputShape, depth = WRN_DEFAULT_DEPTH, widen = WRN_DEFAULT_WIDEN }) {
    if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6 !== 0) {
      throw new Error(`wide-resnet: depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 34, ...), got ${depth}`);
    }
    if (!Number.isInteger(widen) || widen < 1)
      throw new Error(`wide-resnet: widen must be an integer >= 1, got ${widen}`);
    const n = (depth - 4) / 6;
    const channels = [16, 16 * widen, 32 * widen, 64 * widen];
    const stem = new Conv2d(b, 'conv1', {
      inChannels: inputShape[2],
      outChannels: channels[0],
      kernelSize: 3,
      init: WRN_CONV_INIT,
    });
    const blocks: WideBlock[] = [];
    [1, 2, 2].forEach((stride, group) => {
      for (let i = 0; i < n; i++) {
        const inPlanes = i === 0 ? channels[group] : channels[group + 1];
        const scope = b.scope(`block${group + 1}.layer.${i}`);
        blocks.push(new WideBlock(scope, inPlanes, channels[group + 1], i === 0 ? stride : 1));
      }
    });
    const bn = new BatchNorm(b, 'bn1', channels[3]);
    const fc = new Dense(b, 'fc', channels[3], numClasses, 'zeros');
    return {
      forward(x, mode) {
        let out = stem.apply(x);
        for (const block of blocks) out = block.apply(out, mode);
        out = bn.applyRelu(out, mode);
        return fc.apply(tf.mean(out, [1, 2]) as tf.Tensor2D);
      },
    };
  },
};
