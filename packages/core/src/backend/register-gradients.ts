import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's CommonJS bundle (what Node and jest load) registers no gradients at all: tf.grad of a plain
// tf.sum throws "gradient function not found for Sum". The union package registers the full standard set
// on the same tfjs-core instance when it loads; it is already a dependency of @mat/core.
import '@tensorflow/tfjs';
import { topKGradConfig } from './gradients/topk-grad';
import { NON_DIFFERENTIABLE_KERNELS, zeroGradConfig } from './gradients/non-differentiable-grads';

/** Gradients that tfjs 4.22 lacks and MAT's losses and attacks differentiate through. */
export function missingGradientConfigs(): tf.GradConfig[] {
  return [
    topKGradConfig,
    ...Object.entries(NON_DIFFERENTIABLE_KERNELS).map(([kernel, inputs]) => zeroGradConfig(kernel, inputs)),
  ];
}

/**
 * Makes every gradient that training needs available on every backend. Idempotent, and it never replaces
 * a gradient tfjs already has. Runs when `@mat/core` is imported; call it again after
 * a custom tfjs setup. Returns the kernel names whose gradients this call registered.
 */
export function registerTrainingGradients(): string[] {
  if (tf.getGradient(tf.Sum) == null) {
    throw new Error(
      'tfjs gradients are not registered on this @tensorflow/tfjs-core instance: ' +
        '@tensorflow/tfjs probably resolved to a different tfjs-core copy (check `npm ls @tensorflow/tfjs-core`)',
    );
  }
  const added: string[] = [];
  for (const config of missingGradientConfigs()) {
    if (tf.getGradient(config.kernelName) != null) continue;
    tf.registerGradient(config);
    added.push(config.kernelName);
  }
  return added;
}
