import * as fs from 'fs';
import * as path from 'path';

/** 'auto': Winograd F(2x2,3x3) for the 3x3 stride-1 layers it serves (csrc/winograd.h); 'im2col': never. */
export type ConvAlgorithm = 'auto' | 'im2col';

/** The C++ addon's functions (csrc/addon.cc). Outputs are preallocated Float32Arrays that it fills. */
export interface NativeAddon {
  conv2d(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    geom: Int32Array,
    relu: boolean,
  ): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, geom: Int32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geom: Int32Array): void;
  /** dims = [batchA, batchB, M, N, K]; c[i] = op(a[i % batchA]) op(b[i % batchB]). */
  matmul(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    dims: Int32Array,
    transA: boolean,
    transB: boolean,
  ): void;
  maxPool(x: Float32Array, y: Float32Array, geom: Int32Array): void;
  avgPool(x: Float32Array, y: Float32Array, geom: Int32Array): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, geom: Int32Array): void;
  avgPoolGrad(dy: Float32Array, dx: Float32Array, geom: Int32Array): void;
  relu(x: Float32Array, y: Float32Array): void;
  step(x: Float32Array, y: Float32Array, alpha: number): void;
  /**
   * z = op(a, b) over z.length elements. op: 0 add, 1 mul, 2 sub, 3 div, 4 max, 5 min, 6 squared difference.
   * Modes: 0 element-wise, 1 a single value, 2 a row of `cols` values repeated along z.
   */
  binary(
    op: number,
    a: Float32Array,
    aMode: number,
    b: Float32Array,
    bMode: number,
    z: Float32Array,
    cols: number,
  ): void;
  /** dx = dy * step(x). */
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  sign(x: Float32Array, y: Float32Array): void;
  clip(x: Float32Array, y: Float32Array, lo: number, hi: number): void;
  /** x as [outer, reduce, inner]: y[o, i] = sum_r x[o, r, i], each term first divided by divisor when > 0. */
  reduceSum(
    x: Float32Array,
    y: Float32Array,
    outer: number,
    reduce: number,
    inner: number,
    divisor: number,
  ): void;
  tile(x: Float32Array, out: Float32Array, shape: Int32Array, reps: Int32Array): void;
  batchNorm(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    scale: Float32Array | null,
    offset: Float32Array | null,
    eps: number,
    channels: number,
    y: Float32Array,
    /** max(y, 0) afterwards: batch norm + ReLU in one pass */
    relu?: boolean,
  ): void;
  /** dx = (dy * step(y)) * factor[c]: the input gradient of relu(batchNorm(x)), factor = scale * rsqrt(var + eps). */
  batchNormReluGrad(
    dy: Float32Array,
    y: Float32Array,
    factor: Float32Array,
    channels: number,
    dx: Float32Array,
  ): void;
  /** Per channel, with g = dy * step(y): sumG = sum g, sumGXc = sum g * (x - mean) (skipped when null). */
  batchNormReluSums(
    dy: Float32Array,
    y: Float32Array,
    x: Float32Array | null,
    mean: Float32Array | null,
    channels: number,
    sumG: Float32Array,
    sumGXc: Float32Array | null,
  ): void;
  info(): {
    simd: string;
    detectedSimd: string;
    threads: number;
    compiler: string;
    mr: number;
    nr: number;
    convAlgorithm: string;
  };
  poolStats(): NativePoolStats;
  setThreads(n: number): void;
  setSimd(level: 'avx512' | 'avx2' | 'scalar'): void;
  setConvAlgorithm(algorithm: ConvAlgorithm): void;
}

/** The thread pool's counters since they were last taken (parallel calls with more than one thread). */
export interface NativePoolStats {
  calls: number;
  chunks: number;
  /** Chunks the calling (JS) thread ran itself. */
  callerChunks: number;
  /** Time the calling thread waited for the workers' last chunks after running out of its own. */
  callerWaitMs: number;
}

/** Where `npm install` (node-gyp) puts the binary; the same from src/ (ts-jest) and dist/. */
export const ADDON_PATH = path.join(__dirname, '..', 'build', 'Release', 'mat_native.node');

let cached: { addon: NativeAddon | null; error: string } | undefined;

/**
 * The addon, or null when it was not built (no compiler at install time) or cannot be loaded.
 * MAT_NATIVE_DISABLE=1 pretends it is absent, to exercise the fallbacks.
 */
export function loadAddon(): NativeAddon | null {
  if (cached) return cached.addon;
  cached = { addon: null, error: '' };
  if (process.env.MAT_NATIVE_DISABLE === '1') {
    cached.error = 'disabled by MAT_NATIVE_DISABLE=1';
  } else if (!fs.existsSync(ADDON_PATH)) {
    cached.error = `not built (${ADDON_PATH} missing; run \`npm run rebuild-addon -w @mat/native\`)`;
  } else {
    try {
      const mod: { exports: Partial<NativeAddon> } = { exports: {} };
      process.dlopen(mod, ADDON_PATH);
      cached.addon = mod.exports as NativeAddon;
    } catch (err) {
      cached.error = `failed to load ${ADDON_PATH}: ${(err as Error).message}`;
    }
  }
  return cached.addon;
}

/** Why loadAddon() returned null ('' when it did not). */
export function addonError(): string {
  loadAddon();
  return cached?.error ?? '';
}
