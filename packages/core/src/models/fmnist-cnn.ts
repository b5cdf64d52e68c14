import * as tf from '@tensorflow/tfjs-core';
import type { ArchDefinition } from './arch';
import { Conv2d } from './layers/conv2d';
import { Dense } from './layers/dense';

/**
 * Small CNN for Fashion-MNIST (28×28×1), biases on all layers:
 *   conv3×3×32 (pad 1) → ReLU → maxpool 2 → conv3×3×64 (pad 1) → ReLU → maxpool 2
 *   → flatten → dense 128 → ReLU → dense numClasses.
 * 421,642 parameters for 10 classes (the PyTorch count). Initialised as PyTorch initialises the reference CNN:
 * nn.Conv2d and nn.Linear defaults, U(±1/√fan_in) for every weight and bias (docs/models.md).
 *
 * Flatten order: NHWC, i.e. feature index (h·W + w)·C + c. PyTorch's nn.Flatten on NCHW uses c·H·W + h·W + w,
 * so `fc1.kernel` rows are in a different order from a PyTorch `fc1.weight`'s columns; `flattenedInputs` records
 * this and the PyTorch exporter (torch-layout.ts) permutes the rows.
 */
export const fmnistCnn: ArchDefinition = {
  name: 'fmnist-cnn',
  description: 'conv32-pool-conv64-pool-fc128-fc CNN for 28x28 grey images',
  defaultInputShape: [28, 28, 1],
  extraOptions: [],
  build(b, { numClasses, inputShape }) {
    const [h, w, c] = inputShape;
    const pooledH = Math.floor(Math.floor(h / 2) / 2);
    const pooledW = Math.floor(Math.floor(w / 2) / 2);
    if (pooledH < 1 || pooledW < 1)
      throw new Error(`fmnist-cnn: input ${h}x${w} is too small (needs >= 4x4)`);
    const conv1 = new Conv2d(b, 'conv1', { inChannels: c, outChannels: 32, kernelSize: 3, bias: true });
    const conv2 = new Conv2d(b, 'conv2', { inChannels: 32, outChannels: 64, kernelSize: 3, bias: true });
    const flatSize = pooledH * pooledW * 64;
    const fc1 = new Dense(b, 'fc1', flatSize, 128);
    const fc2 = new Dense(b, 'fc2', 128, numClasses);
    return {
      flattenedInputs: { 'fc1.kernel': [pooledH, pooledW, 64] },
      forward(x) {
        let out = tf.maxPool(tf.relu(conv1.apply(x)), 2, 2, 'valid');
        out = tf.maxPool(tf.relu(conv2.apply(out)), 2, 2, 'valid');
        const flat = tf.reshape(out, [x.shape[0], flatSize]) as tf.Tensor2D;
        return fc2.apply(tf.relu(fc1.apply(flat)));
      },
    };
  },
};
