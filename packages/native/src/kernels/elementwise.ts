import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, type Inputs, type NativeKernel } from './util';

/** Relu, and Step whose product with dy is Relu's gradient. */
export const reluKernel: NativeKernel = {
  kernelName: tf.Relu,
  run({ inputs }, backend, addon) {
    const { x } = inputs as Inputs<'x'>;
    const xv = f32(backend, x);
    if (!xv) return null;
    const y = alloc(backend, xv.length);
    addon.relu(xv, y);
    return output(backend, x.shape, y);
  },
};

export const stepKernel: NativeKernel = {
  kernelName: tf.Step,
  run({ inputs, attrs }, backend, addon) {
    const { x } = inputs as Inputs<'x'>;
    const { alpha } = attrs as unknown as tf.StepAttrs;
    const xv = f32(backend, x);
    if (!xv) return null;
    const y = alloc(backend, xv.length);
    addon.step(xv, y, alpha);
    return output(backend, x.shape, y);
  },
};

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** True when `row` broadcasts along the last axis of `full` only (a bias: [C] or [1, ..., 1, C]). */
function isRowOf(row: readonly number[], full: readonly number[]): boolean {
  const c = full[full.length - 1];
  return (
    full.length >= 2 &&
    row.length >= 1 &&
    row.length <= full.length &&
    row[row.length - 1] === c &&
    row.slice(0, -1).every((d) => d === 1)
  );
}

/** x + y for equal shapes, or for a bias broadcast along the last axis (conv/dense bias). */
export const addKernel: NativeKernel = {
  kernelName: tf.Add,
  run({ inputs }, backend, addon) {
    const { a, b } = inputs as Inputs<'a' | 'b'>;
    const av = f32(backend, a);
    const bv = f32(backend, b);
    if (!av || !bv) return null;
    if (sameShape(a.shape, b.shape)) {
      const z = alloc(backend, av.length);
      addon.binary(0, av, bv, z);
      return output(backend, a.shape, z);
    }
    for (const [full, fv, row, rv] of [
      [a, av, b, bv],
      [b, bv, a, av],
    ] as const) {
      if (isRowOf(row.shape, full.shape)) {
        const z = alloc(backend, fv.length);
        addon.addRow(fv, rv, z);
        return output(backend, full.shape, z);
      }
    }
    return null;
  },
};

/** x * y for equal shapes (Relu's gradient dy * step(x)); broadcasts run on the cpu kernel. */
export const multiplyKernel: NativeKernel = {
  kernelName: tf.Multiply,
  run({ inputs }, backend, addon) {
    const { a, b } = inputs as Inputs<'a' | 'b'>;
    const av = f32(backend, a);
    const bv = f32(backend, b);
    if (!av || !bv || !sameShape(a.shape, b.shape)) return null;
    const z = alloc(backend, av.length);
    addon.binary(1, av, bv, z);
    return output(backend, a.shape, z);
  },
};

/** Sum over every axis but the last (a bias gradient); the cpu kernel would transpose first. */
export const sumKernel: NativeKernel = {
  kernelName: tf.Sum,
  run({ inputs, attrs }, backend, addon) {
    const { x } = inputs as Inputs<'x'>;
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const xv = f32(backend, x);
    const rank = x.shape.length;
    if (!xv || rank < 2 || x.shape[rank - 1] === 0) return null;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    if (axes.length !== rank - 1 || axes.some((ax, i) => ax !== i)) return null;
    const c = x.shape[rank - 1];
    const y = alloc(backend, c);
    addon.sumRows(xv, y); // zero rows: writes zeros
    return output(backend, keepDims ? [...new Array(rank - 1).fill(1), c] : [c], y);
  },
};
