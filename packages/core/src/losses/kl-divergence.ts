import * as tf from '@tensorflow/tfjs-core';
import { checkSameLogitShapes } from './check';
import { stopGradient } from './stop-gradient';

/**
 * Per-sample KL divergence between the tempered softmaxes of two logit sets, gradient through BOTH:
 *
 *   KL_b(p ‖ q) = Σ_k p_{b,k} (log p_{b,k} − log q_{b,k}),  p = softmax(targetLogits/τ), q = softmax(inputLogits/τ)
 *
 * This is PyTorch's `kl_div(log_softmax(input/τ), softmax(target/τ))` summed over classes. Log-probabilities
 * come from `logSoftmax`, so a class with p → 0 contributes 0·(finite) instead of 0·log 0.
 */
export function softmaxKlPerSample(
  targetLogits: tf.Tensor2D,
  inputLogits: tf.Tensor2D,
  tau = 1,
): tf.Tensor1D {
  checkSameLogitShapes('KL divergence', targetLogits, inputLogits);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new Error(`KL divergence: tau must be > 0, got ${tau}`);
  return tf.tidy(() => {
    const logP = tf.logSoftmax(tf.div(targetLogits, tau));
    const logQ = tf.logSoftmax(tf.div(inputLogits, tau));
    return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), 1) as tf.Tensor1D;
  });
}

/**
 * Distillation KL, batch mean, teacher detached by construction:
 *
 *   KL(p_t ‖ p_s) = (1/B) Σ_b Σ_k p_t,{b,k} (log p_t,{b,k} − log p_s,{b,k}),  p = softmax(logits/τ)
 *
 * The teacher passes through `stopGradient`, so only the student is trained by this loss. No τ² factor
 * here; distillation losses that want Hinton's τ² scaling apply it themselves (see `mat.ts`).
 */
export function klDivergence(teacherLogits: tf.Tensor2D, studentLogits: tf.Tensor2D, tau = 1): tf.Scalar {
  return tf.tidy(() => tf.mean(softmaxKlPerSample(stopGradient(teacherLogits), studentLogits, tau)));
}
