import * as tf from '@tensorflow/tfjs-core';

/**
 * Comparisons and logical ops have zero gradient almost everywhere, and TensorFlow treats them as
 * non-differentiable. tfjs 4.22 registers a gradient for GreaterEqual but not for the others, so any
 * `tf.where(tf.greater(x, 0), …)` whose condition depends on a differentiated input threw
 * "gradient function not found for Greater". An explicit zero gradient restores TensorFlow's behaviour.
 *
 * Keyed by kernel name; the value lists the kernel's input names (the keys its gradient map must use).
 */
export const NON_DIFFERENTIABLE_KERNELS: Readonly<Record<string, readonly string[]>> = {
  [tf.Greater]: ['a', 'b'],
  [tf.Less]: ['a', 'b'],
  [tf.LessEqual]: ['a', 'b'],
  [tf.Equal]: ['a', 'b'],
  [tf.NotEqual]: ['a', 'b'],
  [tf.LogicalAnd]: ['a', 'b'],
  [tf.LogicalOr]: ['a', 'b'],
  [tf.LogicalNot]: ['x'],
};

/** Every input of `kernelName` gets a zero gradient of its own shape and dtype. */
export function zeroGradConfig(kernelName: string, inputNames: readonly string[]): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: [...inputNames],
    gradFunc: (_dy, saved) => {
      const grads: Record<string, () => tf.Tensor> = {};
      inputNames.forEach((name, position) => {
        grads[name] = () => tf.zerosLike(saved[position]);
      });
      return grads;
    },
  };
}
