import * as tf from '@tensorflow/tfjs-core';
import { overrideGradientOnNative } from './native-gradient';

/**
 * A leaner FusedBatchNorm gradient while a native backend is active. With r = 1/√(σ² + ε) and scale s:
 *
 *   dx = dy · (s·r)                       one broadcast multiply over the channels
 *   dβ = Σ dy,   dγ = r · Σ dy·(x − μ)
 *   dμ = −s·r · Σ dy,   dσ² = −½·s·r³ · Σ dy·(x − μ)      (sums over N, H, W)
 *
 * tfjs's own gradient computes x − μ and dy·s over the whole activation up front, whichever inputs need a
 * gradient, and dx as dy · tile(r) · s: five activation-sized passes per batch norm per backward pass.
 * PGD only needs dx (batch norm runs on running statistics during attacks), so on PreActResNet-18 most of
 * those passes were waste (about 4 of 27 CPU seconds of an AT step). Here every input's gradient is computed
 * only when asked for. Same formulas, rounding differs by a few ulps (the products are grouped differently).
 * Other backends, and inputs this does not cover (not NHWC with per-channel statistics), keep tfjs's
 * gradient. Idempotent; a no-op until tfjs's gradients are registered.
 */
export function installBatchNormGradient(): void {
  overrideGradientOnNative(tf.FusedBatchNorm, (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved as tf.Tensor[];
    const perChannel = (t: tf.Tensor | undefined) => !t || (t.rank === 1 && t.shape[0] === x.shape[3]);
    if (x.rank !== 4 || ![mean, variance, scale].every(perChannel)) return null;
    const g = dy as tf.Tensor4D;
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const axes = [0, 1, 2];
    const r = () => tf.rsqrt(tf.add(variance, varianceEpsilon));
    const s = () => scale ?? tf.scalar(1);
    const sumDyCentered = () => tf.sum(tf.mul(g, tf.sub(x, mean)), axes);
    // Each closure runs only for an input that needs a gradient (and in its own tidy).
    return {
      x: () => tf.mul(g, tf.mul(s(), r())),
      mean: () => tf.mul(tf.neg(tf.mul(s(), r())), tf.sum(g, axes)),
      variance: () => tf.mul(tf.mul(-0.5, tf.mul(s(), tf.pow(r(), 3))), sumDyCentered()),
      scale: () => tf.mul(r(), sumDyCentered()),
      offset: () => tf.sum(g, axes),
    };
  });
}
