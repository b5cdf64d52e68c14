import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's CommonJS bundle (what Node and jest load) registers no gradients at all: tf.grad of a plain
// tf.sum throws "gradient function not found for Sum". The union package registers the full standard set
// on the same tfjs-core instance when it loads; it is already a dependency of @mat/core.
import '@tensorflow/tfjs';
import { maximumGradConfig, minimumGradConfig } from './gradients/min-max-grads';
import { NON_DIFFERENTIABLE_KERNELS, zeroGradConfig } from './gradients/non-differentiable-grads';
import { topKGradConfig } from './gradients/topk-grad';

/** Gradients tfjs 4.22 lacks and MAT's losses and attacks differentiate through; added where absent. */
export const MISSING_GRADIENTS: readonly tf.GradConfig[] = [
  topKGradConfig,
  ...Object.entries(NON_DIFFERENTIABLE_KERNELS).map(([kernel, inputs]) => zeroGradConfig(kernel, inputs)),
];

/** tfjs gradients that are wrong for some inputs (broadcasting); ours replace them. */
export const GRADIENT_FIXES: readonly tf.GradConfig[] = [maximumGradConfig, minimumGradConfig];

/**
 * Makes every gradient that training needs available on every backend. Idempotent; runs when `@mat/core`
 * is imported. Returns the kernel names whose gradients this call registered or replaced.
 */
export function registerTrainingGradients(): string[] {
  if (tf.getGradient(tf.Sum) == null) {
    throw new Error(
      'tfjs gradients are not registered on this @tensorflow/tfjs-core instance: ' +
        '@tensorflow/tfjs probably resolved to a different tfjs-core copy (check `npm ls @tensorflow/tfjs-core`)',
    );
  }
  const changed: string[] = [];
  for (const config of MISSING_GRADIENTS) {
    if (tf.getGradient(config.kernelName) != null) continue;
    tf.registerGradient(config);
    changed.push(config.kernelName);
  }
  for (const config of GRADIENT_FIXES) {
    const current = tf.getGradient(config.kernelName) as tf.GradConfig | undefined;
    if (current?.gradFunc === config.gradFunc) continue;
    if (current != null) tf.unregisterGradient(config.kernelName);
    tf.registerGradient(config);
    changed.push(config.kernelName);
  }
  return changed;
}
