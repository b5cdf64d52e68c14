import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, type Inputs, type NativeKernel } from './util';

/** Unary element-wise kernels: Relu, Step (dy * step(x) is Relu's gradient), Sign, ClipByValue; and Sum. */
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

export const signKernel: NativeKernel = {
  kernelName: tf.Sign,
  run({ inputs }, backend, addon) {
    const { x } = inputs as Inputs<'x'>;
    const xv = f32(backend, x);
    if (!xv) return null;
    const y = alloc(backend, xv.length);
    addon.sign(xv, y);
    return output(backend, x.shape, y);
  },
};

export const clipByValueKernel: NativeKernel = {
  kernelName: tf.ClipByValue,
  run({ inputs, attrs }, backend, addon) {
    const { x } = inputs as Inputs<'x'>;
    const { clipValueMin, clipValueMax } = attrs as unknown as tf.ClipByValueAttrs;
    const xv = f32(backend, x);
    if (!xv) return null;
    const y = alloc(backend, xv.length);
    addon.clip(xv, y, clipValueMin, clipValueMax);
    return output(backend, x.shape, y);
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
