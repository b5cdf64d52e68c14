import * as fs from 'fs';
import * as path from 'path';

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
  /** op 0: z = a + b, op 1: z = a * b (same lengths). */
  binary(op: 0 | 1, a: Float32Array, b: Float32Array, z: Float32Array): void;
  /** z[i, j] = a[i, j] + b[j]. */
  addRow(a: Float32Array, b: Float32Array, z: Float32Array): void;
  /** y[j] = sum_i x[i, j]. */
  sumRows(x: Float32Array, y: Float32Array): void;
  info(): { simd: string; detectedSimd: string; threads: number; compiler: string; mr: number; nr: number };
  setThreads(n: number): void;
  setSimd(level: 'avx512' | 'avx2' | 'scalar'): void;
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
