import * as tf from '@tensorflow/tfjs-core';

/**
 * Identity in the forward pass, zero gradient in the backward pass (tfjs has no `tf.stopGradient`).
 * Losses wrap teacher outputs in it so that a teacher is never trained through a student's loss, even
 * when the caller forgot to detach it.
 */
export function stopGradient<T extends tf.Tensor>(t: T): T {
  const detach = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return detach(t) as T;
}
