import * as tf from '@tensorflow/tfjs-core';

/**
 * Losses on the logits' margins, per sample, that evaluation attacks maximise. Unlike the cross-entropy they
 * do not saturate once a sample is confidently classified, and the DLR losses are invariant to shifting and
 * rescaling the logits, which defeats defences that merely inflate the logit scale.
 */

/** Logits with the true class pushed far below every other, so that a max over them is max_{j≠y} z_j. */
function withoutClass(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor2D {
  const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
  // A finite offset (not −∞) keeps 0·offset = 0 in the gradient of the unselected branch.
  return tf.sub(logits, tf.mul(oneHot, 1e9)) as tf.Tensor2D;
}

function logitOf(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
  return tf.sum(tf.mul(oneHot, logits), 1) as tf.Tensor1D;
}

/**
 * Carlini–Wagner margin (Carlini & Wagner 2017, with κ = ∞ as in the CW-l∞ evaluations of TRADES and MART):
 *
 *   CW_b = max_{j≠y} z_{b,j} − z_{b,y}
 *
 * Positive exactly when the sample is misclassified.
 */
export function cwMarginPerSample(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(
    () => tf.sub(tf.max(withoutClass(logits, labels), 1), logitOf(logits, labels)) as tf.Tensor1D,
  );
}

/**
 * Difference of Logits Ratio (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an
 * ensemble of diverse parameter-free attacks", eq. 5), with z sorted so that z_π1 ≥ z_π2 ≥ …:
 *
 *   DLR_b = −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12)
 *
 * Needs at least 3 classes.
 */
export function dlrPerSample(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  if (logits.shape[1] < 3) throw new Error(`DLR loss needs at least 3 classes, got ${logits.shape[1]}`);
  return tf.tidy(() => {
    const sorted = tf.topk(logits, 3).values;
    const [top1, , top3] = tf.split(sorted, 3, 1).map((t) => tf.reshape(t, [-1]));
    return tf.div(cwMarginPerSample(logits, labels), tf.add(tf.sub(top1, top3), 1e-12)) as tf.Tensor1D;
  });
}

/**
 * Targeted DLR (Croce & Hein 2020, eq. 6), pushing the sample from class y towards class t:
 *
 *   DLR-T_b = −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)
 *
 * Needs at least 4 classes.
 */
export function targetedDlrPerSample(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  targets: tf.Tensor1D,
): tf.Tensor1D {
  if (logits.shape[1] < 4)
    throw new Error(`targeted DLR loss needs at least 4 classes, got ${logits.shape[1]}`);
  return tf.tidy(() => {
    const sorted = tf.topk(logits, 4).values;
    const [top1, , top3, top4] = tf.split(sorted, 4, 1).map((t) => tf.reshape(t, [-1]));
    const scale = tf.add(tf.sub(top1, tf.mul(0.5, tf.add(top3, top4))), 1e-12);
    return tf.div(tf.sub(logitOf(logits, targets), logitOf(logits, labels)), scale) as tf.Tensor1D;
  });
}
