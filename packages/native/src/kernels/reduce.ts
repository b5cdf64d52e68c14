import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon';
import { alloc, f32, output, sizeOf, type Inputs, type NativeKernel } from './util';

/**
 * Sum or Mean over a contiguous range of axes, viewed as [outer, reduce, inner]: covers bias gradients and
 * batch-norm statistics (axes 0..2 of NHWC) and global average pooling (axes 1..2), which the cpu kernel
 * runs as a transpose plus a sum. Non-contiguous axes run on the cpu kernel.
 */
function reduceRun(
  { inputs, attrs }: Parameters<NativeKernel['run']>[0],
  backend: MathBackendCPU,
  addon: NativeAddon,
  mean: boolean,
): tf.TensorInfo | null {
  const { x } = inputs as Inputs<'x'>;
  const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
  const xv = f32(backend, x);
  if (!xv) return null;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  if (axes.length === 0 || axes.some((ax, i) => i > 0 && ax !== axes[i - 1] + 1)) return null;
  const first = axes[0];
  const last = axes[axes.length - 1];
  const outer = sizeOf(x.shape.slice(0, first));
  const reduce = sizeOf(x.shape.slice(first, last + 1));
  const inner = sizeOf(x.shape.slice(last + 1));
  const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
  const y = alloc(backend, outer * inner);
  // tfjs Mean divides each value by the count (as float32) before summing.
  addon.reduceSum(xv, y, outer, reduce, inner, mean ? reduce : 0);
  return output(backend, keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape, y);
}

export const sumKernel: NativeKernel = {
  kernelName: tf.Sum,
  run: (args, backend, addon) => reduceRun(args, backend, addon, false),
};

export const meanKernel: NativeKernel = {
  kernelName: tf.Mean,
  run: (args, backend, addon) => reduceRun(args, backend, addon, true),
};
