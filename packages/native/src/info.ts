import { addonError, ADDON_PATH, loadAddon, type ConvAlgorithm, type NativePoolStats } from './addon';
import { NATIVE_KERNELS } from './kernels';

export type SimdLevel = 'avx512' | 'avx2' | 'scalar';

export interface NativeInfo {
  /** The addon loaded; when false, `reason` says why and the other fields are empty. */
  available: boolean;
  reason: string;
  /** SIMD level in use, and the best one the CPU supports (MAT_NATIVE_SIMD or setNativeSimd can lower it). */
  simd: SimdLevel | '';
  detectedSimd: SimdLevel | '';
  /** Threads the kernels split work over (MAT_NATIVE_THREADS or setNativeThreads; default 1). */
  threads: number;
  /** How 3x3 stride-1 convolutions run (setNativeConvAlgorithm); '' when the addon is unavailable. */
  convAlgorithm: ConvAlgorithm | '';
  /** Compiler and flags of the build, and the GEMM micro-tile (rows x columns). */
  build: string;
  microTile: string;
  addonPath: string;
  /** Kernel names the backend runs natively (the rest are the cpu backend's). */
  kernels: string[];
}

export function nativeInfo(): NativeInfo {
  const addon = loadAddon();
  const kernels = NATIVE_KERNELS.map((k) => k.kernelName);
  if (!addon) {
    const reason = addonError();
    return {
      available: false,
      reason,
      simd: '',
      detectedSimd: '',
      threads: 0,
      convAlgorithm: '',
      build: '',
      microTile: '',
      addonPath: ADDON_PATH,
      kernels,
    };
  }
  const i = addon.info();
  return {
    available: true,
    reason: '',
    simd: i.simd as SimdLevel,
    detectedSimd: i.detectedSimd as SimdLevel,
    threads: i.threads,
    convAlgorithm: i.convAlgorithm as ConvAlgorithm,
    build: `${i.compiler} -O3, runtime ISA dispatch`,
    microTile: `${i.mr}x${i.nr}`,
    addonPath: ADDON_PATH,
    kernels,
  };
}

function requireAddon() {
  const addon = loadAddon();
  if (!addon) throw new Error(`@mat/native: addon unavailable: ${addonError()}`);
  return addon;
}

/** Threads for the native kernels (1..256); the calling thread is one of them. */
export function setNativeThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new Error(`setNativeThreads: n must be an integer in [1, 256], got ${n}`);
  requireAddon().setThreads(n);
}

/** The thread pool's counters since the last call (then reset): how parallel calls shared their work. */
export function takeNativePoolStats(): NativePoolStats {
  return requireAddon().poolStats();
}

/** Lowers the SIMD level (tests compare levels); a level the CPU lacks is clamped to the best it has. */
export function setNativeSimd(level: SimdLevel): void {
  if (!['avx512', 'avx2', 'scalar'].includes(level))
    throw new Error(`setNativeSimd: unknown level '${level}'`);
  requireAddon().setSimd(level);
}

/**
 * Winograd F(2x2, 3x3) for the 3x3 stride-1 "same" layers of at least 64 channels ('auto', the default), or
 * im2col GEMMs for every convolution ('im2col': the comparison in tests and `scripts/bench.js --conv im2col`).
 */
export function setNativeConvAlgorithm(algorithm: ConvAlgorithm): void {
  if (!['auto', 'im2col'].includes(algorithm))
    throw new Error(`setNativeConvAlgorithm: unknown algorithm '${algorithm}' (auto, im2col)`);
  requireAddon().setConvAlgorithm(algorithm);
}
