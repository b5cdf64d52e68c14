import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, sizeOf, type Inputs, type NativeKernel } from './util';

/** Operation codes of csrc/elementwise.h's BinOp. */
const OPS = {
  [tf.Add]: 0,
  [tf.Multiply]: 1,
  [tf.Sub]: 2,
  [tf.RealDiv]: 3,
  [tf.Maximum]: 4,
  [tf.Minimum]: 5,
  [tf.SquaredDifference]: 6,
} as const;

const FULL = 0;
const SCALAR = 1;
const ROW = 2;

/**
 * How an operand of shape `shape` maps onto the broadcast output `out`: element-wise (same size), a single
 * value, a row along the last axis ([C] or [1, ..., 1, C]: a bias), or null for other broadcasts (cpu kernel).
 */
function modeOf(shape: readonly number[], out: readonly number[]): number | null {
  const n = sizeOf(shape);
  if (n === sizeOf(out)) return FULL;
  if (n === 1) return SCALAR;
  const c = out[out.length - 1];
  if (shape.length >= 1 && shape[shape.length - 1] === c && n === c) return ROW;
  return null;
}

/**
 * A broadcast over a run of middle axes: `shape` (left-padded with 1s to the output's rank) equals `out`
 * except on one contiguous run of axes where it is 1, e.g. [N, 1, 1, C] against [N, H, W, C] (the gradient of
 * a global average pool). Returns the output viewed as [outer, mid, inner], or null.
 */
function midBroadcast(
  shape: readonly number[],
  out: readonly number[],
): { outer: number; mid: number; inner: number } | null {
  const p = [...new Array<number>(out.length - shape.length).fill(1), ...shape];
  const differs = out.map((d, i) => p[i] !== d);
  const first = differs.indexOf(true);
  const last = differs.lastIndexOf(true);
  if (first < 0) return null;
  for (let i = first; i <= last; i++) if (p[i] !== 1) return null;
  return {
    outer: sizeOf(out.slice(0, first)),
    mid: sizeOf(out.slice(first, last + 1)),
    inner: sizeOf(out.slice(last + 1)),
  };
}

/**
 * A float32 binary kernel for the broadcasts that training produces: equal shapes, a scalar on either side
 * (PGD's step size and eps, SGD's learning rate and momentum), a per-channel row (biases), and one operand
 * broadcast over middle axes against a full one ([N, 1, 1, C] with [N, H, W, C], run as one row broadcast per
 * outer index). Results are the cpu kernel's bit for bit (float32 +, -, *, / round the same as JS doubles
 * stored to float32).
 */
function binaryKernel(kernelName: keyof typeof OPS): NativeKernel {
  const op = OPS[kernelName];
  return {
    kernelName,
    run({ inputs }, backend, addon) {
      const { a, b } = inputs as Inputs<'a' | 'b'>;
      const av = f32(backend, a);
      const bv = f32(backend, b);
      if (!av || !bv) return null;
      const out = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const am = modeOf(a.shape, out);
      const bm = modeOf(b.shape, out);
      if (am === null || bm === null) {
        // One full operand, the other broadcast over middle axes: a row broadcast per outer index.
        const full = am === FULL ? 'a' : bm === FULL ? 'b' : null;
        const mb =
          full === 'a' ? midBroadcast(b.shape, out) : full === 'b' ? midBroadcast(a.shape, out) : null;
        if (!mb || mb.inner < 8) return null; // narrow rows: too many calls, leave it to the cpu kernel
        const z = alloc(backend, sizeOf(out));
        const block = mb.mid * mb.inner;
        for (let o = 0; o < mb.outer; o++) {
          const fullPart = (full === 'a' ? av : bv).subarray(o * block, (o + 1) * block);
          const rowPart = (full === 'a' ? bv : av).subarray(o * mb.inner, (o + 1) * mb.inner);
          const zPart = z.subarray(o * block, (o + 1) * block);
          if (full === 'a') addon.binary(op, fullPart, FULL, rowPart, ROW, zPart, mb.inner);
          else addon.binary(op, rowPart, ROW, fullPart, FULL, zPart, mb.inner);
        }
        return output(backend, out, z);
      }
      const z = alloc(backend, sizeOf(out));
      addon.binary(op, av, am, bv, bm, z, out.length > 0 ? out[out.length - 1] : 1);
      return output(backend, out, z);
    },
  };
}

export const addKernel = binaryKernel(tf.Add);
export const multiplyKernel = binaryKernel(tf.Multiply);
export const subKernel = binaryKernel(tf.Sub);
export const realDivKernel = binaryKernel(tf.RealDiv);
export const maximumKernel = binaryKernel(tf.Maximum);
export const minimumKernel = binaryKernel(tf.Minimum);
export const squaredDifferenceKernel = binaryKernel(tf.SquaredDifference);
