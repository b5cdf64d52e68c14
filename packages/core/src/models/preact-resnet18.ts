import * as tf from '@tensorflow/tfjs-core';
import type { ArchDefinition } from './arch';
import { BatchNorm } from './layers/batch-norm';
import { Conv2d } from './layers/conv2d';
import { Dense } from './layers/dense';
import type { ParamBuilder } from './layers/params';
import type { ForwardMode } from './model';

/**
 * Pre-activation block (He et al. 2016, "Identity Mappings in Deep Residual Networks"):
 *   a = ReLU(bn1(x));  y = conv2(ReLU(bn2(conv1(a)))) + shortcut,
 * shortcut = x, or a 1×1 strided conv of `a` (`shortcut.0`) when the shape changes.
 */
class PreActBlock {
  private readonly bn1: BatchNorm;
  private readonly conv1: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly shortcut: Conv2d | null;

  constructor(b: ParamBuilder, inPlanes: number, planes: number, stride: number) {
    this.bn1 = new BatchNorm(b, 'bn1', inPlanes);
    this.conv1 = new Conv2d(b, 'conv1', { inChannels: inPlanes, outChannels: planes, kernelSize: 3, stride });
    this.bn2 = new BatchNorm(b, 'bn2', planes);
    this.conv2 = new Conv2d(b, 'conv2', { inChannels: planes, outChannels: planes, kernelSize: 3 });
    this.shortcut =
      stride !== 1 || inPlanes !== planes
        ? new Conv2d(b, 'shortcut.0', { inChannels: inPlanes, outChannels: planes, kernelSize: 1, stride })
        : null;
  }

  apply(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
    const a = this.bn1.applyRelu(x, mode);
    const shortcut = this.shortcut === null ? x : this.shortcut.apply(a);
    const y = this.conv2.apply(this.bn2.applyRelu(this.conv1.apply(a), mode));
    return tf.add(y, shortcut);
  }
}

/**
 * PreActResNet-18 for CIFAR (kuangliu/pytorch-cifar, as used by adversarial-training code such as Rice et al.'s):
 * 3×3 stem conv (no BN, no max-pool), stages of 2 blocks at 64/128/256/512 channels with strides 1/2/2/2,
 * final BN + ReLU (`bn`), global average pool, `linear`. 11,172,170 parameters for 10 classes. PyTorch's default
 * initialisation throughout, as the reference code sets none (docs/models.md).
 * Names follow the PyTorch state_dict: `layer2.0.shortcut.0.kernel` ↔ `layer2.0.shortcut.0.weight`.
 *
 * Pooling: global mean over H×W — identical to the reference `avg_pool2d(out, 4)` for 32×32 inputs, and still
 * defined for other input sizes.
 */
export const preactResnet18: ArchDefinition = {
  name: 'preact-resnet18',
  description: 'PreActResNet-18 (CIFAR variant: 3x3 stem, no max-pool)',
  defaultInputShape: [32, 32, 3],
  extraOptions: [],
  build(b, { numClasses, inputShape }) {
    const stem = new Conv2d(b, 'conv1', { inChannels: inputShape[2], outChannels: 64, kernelSize: 3 });
    const blocks: PreActBlock[] = [];
    let inPlanes = 64;
    [64, 128, 256, 512].forEach((planes, stage) => {
      for (let i = 0; i < 2; i++) {
        const stride = i === 0 && stage > 0 ? 2 : 1;
        blocks.push(new PreActBlock(b.scope(`layer${stage + 1}.${i}`), inPlanes, planes, stride));
        inPlanes = planes;
      }
    });
    const bn = new BatchNorm(b, 'bn', 512);
    const linear = new Dense(b, 'linear', 512, numClasses);
    return {
      forward(x, mode) {
        let out = stem.apply(x);
        for (const block of blocks) out = block.apply(out, mode);
        out = bn.applyRelu(out, mode);
        return linear.apply(tf.mean(out, [1, 2]) as tf.Tensor2D);
      },
    };
  },
};
