import * as tf from '@tensorflow/tfjs-core';
import type { ArchDefinition } from './arch';
import { BatchNorm } from './layers/batch-norm';
import { Conv2d } from './layers/conv2d';
import { Dense } from './layers/dense';
import type { ParamBuilder } from './layers/params';
import type { ForwardMode } from './model';

/**
 * Basic residual block (He et al. 2015): y = ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x)),
 * shortcut = x, or 1×1 strided conv (`shortcut.0`) + BN (`shortcut.1`) when the shape changes.
 */
class BasicBlock {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly shortcut: { conv: Conv2d; bn: BatchNorm } | null;

  constructor(b: ParamBuilder, inPlanes: number, planes: number, stride: number) {
    this.conv1 = new Conv2d(b, 'conv1', { inChannels: inPlanes, outChannels: planes, kernelSize: 3, stride });
    this.bn1 = new BatchNorm(b, 'bn1', planes);
    this.conv2 = new Conv2d(b, 'conv2', { inChannels: planes, outChannels: planes, kernelSize: 3 });
    this.bn2 = new BatchNorm(b, 'bn2', planes);
    this.shortcut =
      stride !== 1 || inPlanes !== planes
        ? {
            conv: new Conv2d(b, 'shortcut.0', {
              inChannels: inPlanes,
              outChannels: planes,
              kernelSize: 1,
              stride,
            }),
            bn: new BatchNorm(b, 'shortcut.1', planes),
          }
        : null;
  }

  apply(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
    const out = this.bn1.applyRelu(this.conv1.apply(x), mode);
    const y = this.bn2.apply(this.conv2.apply(out), mode);
    const shortcut = this.shortcut === null ? x : this.shortcut.bn.apply(this.shortcut.conv.apply(x), mode);
    return tf.relu(tf.add(y, shortcut)) as tf.Tensor4D;
  }
}

/**
 * ResNet-18 for CIFAR as in the TRADES/MART code (kuangliu/pytorch-cifar): 3×3 stem conv + BN + ReLU, no
 * max-pool, stages of 2 basic blocks at 64/128/256/512 channels with strides 1/2/2/2, global average pool,
 * `linear`. 11,173,962 parameters for 10 classes. Names follow the PyTorch state_dict. PyTorch's default
 * initialisation throughout, as the reference code sets none (docs/models.md).
 */
export const resnet18: ArchDefinition = {
  name: 'resnet18',
  description: 'ResNet-18 (CIFAR variant: 3x3 stem, no max-pool)',
  defaultInputShape: [32, 32, 3],
  extraOptions: [],
  build(b, { numClasses, inputShape }) {
    const stem = new Conv2d(b, 'conv1', { inChannels: inputShape[2], outChannels: 64, kernelSize: 3 });
    const stemBn = new BatchNorm(b, 'bn1', 64);
    const blocks: BasicBlock[] = [];
    let inPlanes = 64;
    [64, 128, 256, 512].forEach((planes, stage) => {
      for (let i = 0; i < 2; i++) {
        const stride = i === 0 && stage > 0 ? 2 : 1;
        blocks.push(new BasicBlock(b.scope(`layer${stage + 1}.${i}`), inPlanes, planes, stride));
        inPlanes = planes;
      }
    });
    const linear = new Dense(b, 'linear', 512, numClasses);
    return {
      forward(x, mode) {
        let out = stemBn.applyRelu(stem.apply(x), mode);
        for (const block of blocks) out = block.apply(out, mode);
        return linear.apply(tf.mean(out, [1, 2]) as tf.Tensor2D);
      },
    };
  },
};
