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
 * A float32 binary kernel for the broadcasts that training produces: equal shapes, a scalar on either side
 * (PGD's step size and eps, SGD's learning rate and momentum), a per-channel row (biases). Results are the
 * cpu kernel's bit for bit (float32 +, -, *, / round the same as JS doubles stored to float32).
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
      if (am === null || bm === null) return null;
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
