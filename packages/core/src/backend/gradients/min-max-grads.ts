import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradients of Maximum and Minimum that handle broadcasting. tfjs 4.22's versions return dy in the output's
 * shape for both inputs, so `tf.maximum(x, perChannelFloor)` fails with "The gradient of input 'b' has
 * shape …, which does not match the shape of the input". As for Add/Mul, the gradient of a broadcast
 * input is summed over the broadcast axes:
 *
 *   ∂max(a, b)/∂a = dy · [a ≥ b],  ∂max(a, b)/∂b = dy · [a < b]   (ties go to a, as in tfjs)
 *   ∂min(a, b)/∂a = dy · [a ≤ b],  ∂min(a, b)/∂b = dy · [a > b]
 */
function reduceToShape(grad: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, grad.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(grad, axes) : grad, shape);
}

function selectionGrad(
  kernelName: string,
  aWins: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  bWins: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const grad = dy as tf.Tensor;
      return {
        a: () => tf.tidy(() => reduceToShape(tf.mul(grad, tf.cast(aWins(a, b), 'float32')), a.shape)),
        b: () => tf.tidy(() => reduceToShape(tf.mul(grad, tf.cast(bWins(a, b), 'float32')), b.shape)),
      };
    },
  };
}

export const maximumGradConfig = selectionGrad(tf.Maximum, tf.greaterEqual, tf.less);
export const minimumGradConfig = selectionGrad(tf.Minimum, tf.lessEqual, tf.greater);
