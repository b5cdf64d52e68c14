import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, type Inputs, type NativeKernel } from './util';

/** Unary element-wise kernels: Relu, Step (dy * step(x) is Relu's gradient), Sign, ClipByValue. */
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
