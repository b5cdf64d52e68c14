/**
 * Gradients on cpu and wasm vs central finite differences of an independent float64 JavaScript
 * implementation of the same tiny network:
 *
 *   x [2,6,6,2] → conv 3×3 stride 1 'same' (+ bias) → relu → maxPool 2×2 stride 2 → flatten (27)
 *     → dense (27 → 4, + bias) → mean cross-entropy with integer labels
 *
 *   ∂L/∂θᵢ ≈ (L(θ + h·eᵢ) − L(θ − h·eᵢ)) / 2h,  h = 1e-6 (float64 truncation + rounding error ≈ 1e-10)
 *
 * for every entry of the input and of all four parameter tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, selectBackend } from '@mat/core';
import { relativeError } from './gradient-parity';

const [B, H, W, C, K, CLASSES] = [2, 6, 6, 2, 3, 4];
const POOLED = (H / 2) * (W / 2) * K;

interface Net {
  x: Float64Array; // [B, H, W, C]
  w1: Float64Array; // [3, 3, C, K]
  b1: Float64Array; // [K]
  w2: Float64Array; // [POOLED, CLASSES]
  b2: Float64Array; // [CLASSES]
}
type NetKey = keyof Net;
const KEYS: NetKey[] = ['x', 'w1', 'b1', 'w2', 'b2'];
const SHAPES: Record<NetKey, number[]> = {
  x: [B, H, W, C],
  w1: [3, 3, C, K],
  b1: [K],
  w2: [POOLED, CLASSES],
  b2: [CLASSES],
};

/** The network's loss in float64, written out loop by loop (no tfjs). */
function referenceLoss(net: Net, labels: number[]): number {
  let total = 0;
  for (let b = 0; b < B; b++) {
    const act = new Float64Array(H * W * K);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let k = 0; k < K; k++) {
          let s = net.b1[k];
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < 3; j++) {
              const yy = y + i - 1; // 'same' padding for a 3×3 filter, stride 1: one pixel each side
              const xx = x + j - 1;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              for (let c = 0; c < C; c++)
                s += net.x[((b * H + yy) * W + xx) * C + c] * net.w1[((i * 3 + j) * C + c) * K + k];
            }
          act[(y * W + x) * K + k] = Math.max(0, s);
        }
    const pooled = new Float64Array(POOLED);
    for (let y = 0; y < H / 2; y++)
      for (let x = 0; x < W / 2; x++)
        for (let k = 0; k < K; k++) {
          let m = -Infinity;
          for (let i = 0; i < 2; i++)
            for (let j = 0; j < 2; j++) m = Math.max(m, act[((2 * y + i) * W + 2 * x + j) * K + k]);
          pooled[(y * (W / 2) + x) * K + k] = m;
        }
    const logits = Array.from(net.b2);
    for (let o = 0; o < CLASSES; o++)
      for (let p = 0; p < POOLED; p++) logits[o] += pooled[p] * net.w2[p * CLASSES + o];
    const max = Math.max(...logits);
    const logSumExp = max + Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
    total += logSumExp - logits[labels[b]];
  }
  return total / B;
}

function finiteDifferences(net: Net, labels: number[], key: NetKey, h = 1e-6): Float64Array {
  const values = net[key];
  const grad = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const saved = values[i];
    values[i] = saved + h;
    const plus = referenceLoss(net, labels);
    values[i] = saved - h;
    const minus = referenceLoss(net, labels);
    values[i] = saved;
    grad[i] = (plus - minus) / (2 * h);
  }
  return grad;
}

/** The same network with tfjs ops on the current backend; returns the loss and its gradients. */
function tfjsLossAndGrads(net: Net, labels: number[]): { loss: number; grads: Record<NetKey, Float32Array> } {
  const tensors = KEYS.map((key) => tf.tensor(Float32Array.from(net[key]), SHAPES[key]));
  const labelTensor = tf.tensor1d(labels, 'int32');
  const lossOf = (x: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor): tf.Scalar => {
    const conv = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'same'), b1));
    const pooled = tf.reshape(tf.maxPool(conv as tf.Tensor4D, 2, 2, 'valid'), [B, POOLED]);
    const logits = tf.add(tf.matMul(pooled, w2), b2);
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labelTensor, CLASSES)), 1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  };
  const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) =>
    lossOf(xs[0], xs[1], xs[2], xs[3], xs[4]),
  )(tensors);
  const result = {
    loss: value.dataSync()[0],
    grads: Object.fromEntries(KEYS.map((key, i) => [key, grads[i].dataSync() as Float32Array])) as Record<
      NetKey,
      Float32Array
    >,
  };
  tf.dispose([...tensors, labelTensor, value, ...grads]);
  return result;
}

describe('gradients vs float64 finite differences on a conv+relu+pool+dense net', () => {
  const rng = new Rng(4242);
  const uniform = (n: number, low: number, high: number) =>
    Float64Array.from(rng.fillUniform(new Float32Array(n), low, high));
  const net: Net = {
    x: uniform(B * H * W * C, 0, 1),
    w1: uniform(9 * C * K, -0.5, 0.5),
    b1: uniform(K, -0.1, 0.1),
    w2: uniform(POOLED * CLASSES, -0.5, 0.5),
    b2: uniform(CLASSES, -0.1, 0.1),
  };
  const labels = [rng.int(CLASSES), rng.int(CLASSES)];
  const numeric = Object.fromEntries(KEYS.map((key) => [key, finiteDifferences(net, labels, key)])) as Record<
    NetKey,
    Float64Array
  >;

  it.each(['cpu', 'wasm'] as const)('%s matches the finite differences', async (backend) => {
    await selectBackend(backend);
    const { loss, grads } = tfjsLossAndGrads(net, labels);
    expect(Math.abs(loss - referenceLoss(net, labels)) / Math.abs(referenceLoss(net, labels))).toBeLessThan(
      1e-5,
    );
    const errors = KEYS.map((key) => ({ key, error: relativeError(grads[key], numeric[key]) }));
    expect(errors.filter(({ error }) => !(error < 1e-4))).toEqual([]);
  });
});
