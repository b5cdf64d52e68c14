import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon';
import { alloc, f32, output, type Inputs, type KernelArgs } from './kernels/util';

/**
 * The pre-activation block's batch norm + ReLU as one kernel: y = relu(batchNorm(x, mean, variance, offset,
 * scale, varianceEpsilon)), NHWC with per-channel parameters. Only native backends register it; @mat/core's
 * BatchNorm.applyRelu runs it when the active backend has it and relu(batchNorm(...)) otherwise. Same inputs
 * and attrs as FusedBatchNorm (all five inputs required).
 */
export const BATCH_NORM_RELU_KERNEL = 'MatBatchNormRelu';
/** dx = (dy * step(y)) * factor[c]: its input gradient in one pass. */
export const BATCH_NORM_RELU_GRAD_KERNEL = 'MatNativeBatchNormReluGrad';
/** [Σ g, Σ g·(x − mean)] per channel, g = dy · step(y): what the parameter gradients need, in one pass. */
export const BATCH_NORM_RELU_SUMS_KERNEL = 'MatNativeBatchNormReluSums';

type BnInputs = Inputs<'x' | 'mean' | 'variance' | 'scale' | 'offset'>;

/** The channel count when every parameter is per-channel (length C) over an input whose last axis is C. */
function channelsOf(x: tf.TensorInfo, params: tf.TensorInfo[]): number | null {
  const c = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || !c) return null;
  return params.every((p) => p && p.shape.length === 1 && p.shape[0] === c) ? c : null;
}

/**
 * Forward: the batch-norm kernel's arithmetic with the ReLU applied before the store, so the same bits as
 * FusedBatchNorm then Relu on this backend, with one pass and no intermediate activation.
 */
export function batchNormReluKernelFunc(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const cpu = backend as MathBackendCPU;
    const { x, mean, variance, scale, offset } = inputs as BnInputs;
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const channels = channelsOf(x, [mean, variance, scale, offset]);
    const xv = f32(cpu, x);
    const p = [mean, variance, scale, offset].map((t) => f32(cpu, t));
    if (channels !== null && xv && p.every((v) => v !== null)) {
      const y = alloc(cpu, xv.length);
      const [m, v, s, o] = p as Float32Array[];
      addon.batchNorm(xv, m, v, s, o, varianceEpsilon ?? 0.001, channels, y, true);
      return output(cpu, x.shape, y);
    }
    // Anything else: the two kernels this backend registers.
    const bn = tf
      .getKernel(tf.FusedBatchNorm, tf.getBackend())!
      .kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
    const out = tf
      .getKernel(tf.Relu, tf.getBackend())!
      .kernelFunc({ inputs: { x: bn }, backend }) as tf.TensorInfo;
    cpu.disposeIntermediateTensorInfo(bn);
    return out;
  };
}

export function batchNormReluGradKernelFunc(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend }: KernelArgs) => {
    const cpu = backend as MathBackendCPU;
    const { dy, y, factor } = inputs as Inputs<'dy' | 'y' | 'factor'>;
    const channels = channelsOf(y, [factor]);
    const [dyv, yv, fv] = [dy, y, factor].map((t) => f32(cpu, t));
    if (channels === null || !dyv || !yv || !fv || dyv.length !== yv.length)
      throw new Error(
        `${BATCH_NORM_RELU_GRAD_KERNEL}: needs float32 dy and y of one shape and a factor per channel`,
      );
    const dx = alloc(cpu, dyv.length);
    addon.batchNormReluGrad(dyv, yv, fv, channels, dx);
    return output(cpu, y.shape, dx);
  };
}

/** Outputs [sumG, sumGXc] (both [C]); with no x and mean, sumGXc is not computed and returned as zeros. */
export function batchNormReluSumsKernelFunc(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend }: KernelArgs) => {
    const cpu = backend as MathBackendCPU;
    const { dy, y, x, mean } = inputs as Partial<Inputs<'dy' | 'y' | 'x' | 'mean'>>;
    if (!dy || !y) throw new Error(`${BATCH_NORM_RELU_SUMS_KERNEL}: needs dy and y`);
    const channels = channelsOf(y, mean ? [mean] : []);
    const [dyv, yv, xv, mv] = [dy, y, x, mean].map((t) => (t ? f32(cpu, t) : null));
    if (channels === null || !dyv || !yv || dyv.length !== yv.length || (x && xv?.length !== yv.length))
      throw new Error(`${BATCH_NORM_RELU_SUMS_KERNEL}: needs float32 dy, y (and x) of one shape`);
    const sumG = new Float32Array(channels);
    const sumGXc = new Float32Array(channels);
    addon.batchNormReluSums(dyv, yv, xv, mv, channels, sumG, xv && mv ? sumGXc : null);
    return [output(cpu, [channels], sumG), output(cpu, [channels], sumGXc)];
  };
}

/**
 * The gradient of relu(batchNorm(x, mean, variance, offset, scale)). With r = 1/√(σ² + ε), s the scale and
 * g = dy · step(y) (the ReLU gradient; y > 0 exactly where the batch norm's output is):
 *
 *   dx = g · (s·r)              one pass over dy and y (BATCH_NORM_RELU_GRAD_KERNEL), g never stored
 *   dβ = Σ g,   dγ = r · Σ g·(x − μ),   dμ = −s·r · Σ g,   dσ² = −½·s·r³ · Σ g·(x − μ)
 *
 * the sums over N, H, W in one pass (BATCH_NORM_RELU_SUMS_KERNEL), computed once for all four parameter
 * gradients and read back as per-channel arrays. Same formulas as batch-norm-grad.ts after relu-grad.ts, and
 * the same bits (the kernels round each product as those do). PGD (running statistics) asks only for dx; a
 * training step asks for all five (μ and σ² are then the batch moments, whose own gradients tfjs computes).
 */
function batchNormReluGradFunc(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) {
  const [x, mean, variance, scale, y] = saved;
  const g = dy as tf.Tensor;
  const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
  const r = () => tf.rsqrt(tf.add(variance, varianceEpsilon));
  const sr = () => tf.mul(scale, r());
  // The sums are needed by up to four closures, each run in its own tidy: computed once and kept as arrays.
  let sums: { g: Float32Array; gx: Float32Array } | null = null;
  const getSums = (centred: boolean) => {
    if (!sums || (centred && !sums.gx.length)) {
      const inputs: tf.NamedTensorMap = centred ? { dy: g, y, x, mean } : { dy: g, y, mean };
      const [a, b] = tf.engine().runKernel(BATCH_NORM_RELU_SUMS_KERNEL, inputs) as tf.Tensor[];
      sums = {
        g: a.dataSync() as Float32Array,
        gx: centred ? (b.dataSync() as Float32Array) : new Float32Array(0),
      };
      tf.dispose([a, b]);
    }
    return sums;
  };
  // Copies: a tensor keeps the array it is made from, and the buffer pool recycles it on dispose.
  const sumG = () => tf.tensor1d(getSums(false).g.slice());
  const sumGXc = () => tf.tensor1d(getSums(true).gx.slice());
  return {
    x: () => tf.engine().runKernel(BATCH_NORM_RELU_GRAD_KERNEL, { dy: g, y, factor: sr() }) as tf.Tensor,
    mean: () => tf.mul(tf.neg(sr()), sumG()),
    variance: () => tf.mul(tf.mul(-0.5, tf.mul(scale, tf.pow(r(), 3))), sumGXc()),
    scale: () => tf.mul(r(), sumGXc()),
    offset: () => sumG(),
  };
}

/**
 * Registers the three kernels on backend `name` and the fused op's gradient (global, idempotent). The
 * gradient's kernels exist only on native backends, as does the op.
 */
export function registerBatchNormRelu(name: string, addon: NativeAddon): void {
  const kernels: [string, tf.KernelFunc][] = [
    [BATCH_NORM_RELU_KERNEL, batchNormReluKernelFunc(addon)],
    [BATCH_NORM_RELU_GRAD_KERNEL, batchNormReluGradKernelFunc(addon)],
    [BATCH_NORM_RELU_SUMS_KERNEL, batchNormReluSumsKernelFunc(addon)],
  ];
  for (const [kernelName, kernelFunc] of kernels)
    if (!tf.getKernel(kernelName, name)) tf.registerKernel({ kernelName, backendName: name, kernelFunc });
  if (!tf.getGradient(BATCH_NORM_RELU_KERNEL)) {
    tf.registerGradient({
      kernelName: BATCH_NORM_RELU_KERNEL,
      inputsToSave: ['x', 'mean', 'variance', 'scale'],
      outputsToSave: [true],
      gradFunc: batchNormReluGradFunc,
    });
  }
}
