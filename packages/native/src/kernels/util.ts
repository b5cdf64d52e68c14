import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon';
import { NativeBackend } from '../native-backend';

export type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * One kernel of the native backend. `run` returns null for a case it does not handle (another dtype, data
 * format or activation); the cpu backend's kernel then runs on the same arguments, so results never change.
 */
export interface NativeKernel {
  kernelName: string;
  run(args: KernelArgs, backend: MathBackendCPU, addon: NativeAddon): tf.TensorInfo | null;
}

/** The float32 values of t as stored by the cpu backend, or null (other dtype or storage). */
export function f32(backend: MathBackendCPU, t: tf.TensorInfo | undefined): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const values = backend.data.get(t.dataId)?.values;
  return Object.prototype.toString.call(values) === '[object Float32Array]' ? (values as Float32Array) : null;
}

/**
 * An output array of n floats with ARBITRARY contents (recycled from disposed tensors when the backend pools):
 * kernels must write every element.
 */
export function alloc(backend: MathBackendCPU, n: number): Float32Array {
  return backend instanceof NativeBackend ? backend.allocFloat32(n) : new Float32Array(n);
}

export function output(backend: MathBackendCPU, shape: number[], values: Float32Array): tf.TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The 15 numbers csrc/conv.h's ConvGeom reads. */
export function convGeom(c: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.outChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
  ]);
}

/** The 14 numbers csrc/pool.h's PoolGeom reads. */
export function poolGeom(c: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
  ]);
}

export type Shape4 = [number, number, number, number];

/** tfjs's geometry of an NHWC convolution (the attrs every conv kernel and gradient carries). */
export function conv2DInfo(
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: {
    strides: [number, number] | number;
    pad: tf.Conv2DAttrs['pad'];
    dilations?: [number, number] | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  },
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** tfjs's geometry of an NHWC pooling window (dilation 1, as tfjs pools). */
export function pool2DInfo(
  xShape: readonly number[],
  attrs: {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: tf.MaxPoolAttrs['pad'];
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  },
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    xShape as Shape4,
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/** Kernel inputs by name; the engine always passes the ones a kernel declares. */
export type Inputs<K extends string> = Record<K, tf.TensorInfo>;
