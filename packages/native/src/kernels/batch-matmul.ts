import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon';
import { alloc, f32, output, sizeOf, type Inputs, type NativeKernel } from './util';

/**
 * c = op(a) op(b) over broadcast batch dims, the cpu kernel's convention (batch i uses a[i % batchA] and
 * b[i % batchB]). Returns the shape and values, or null for non-float32 inputs.
 */
export function nativeMatMul(
  backend: MathBackendCPU,
  addon: NativeAddon,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): { shape: number[]; values: Float32Array } | null {
  const av = f32(backend, a);
  const bv = f32(backend, b);
  if (!av || !bv) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const inner = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const K = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  if (inner !== K) return null; // let the cpu kernel raise its error
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...outer, M, N];
  const values = alloc(backend, sizeOf(shape));
  const dims = Int32Array.from([sizeOf(a.shape.slice(0, -2)), sizeOf(b.shape.slice(0, -2)), M, N, K]);
  addon.matmul(av, bv, values, dims, transposeA, transposeB);
  return { shape, values };
}

/** tf.matMul (dense layers and their gradients): a packed SGEMM in C++. */
export const batchMatMulKernel: NativeKernel = {
  kernelName: tf.BatchMatMul,
  run({ inputs, attrs }, backend, addon) {
    const { a, b } = inputs as Inputs<'a' | 'b'>;
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const res = nativeMatMul(backend, addon, a, b, transposeA, transposeB);
    return res && output(backend, res.shape, res.values);
  },
};
