import * as tf from '@tensorflow/tfjs-core';
import {
  BATCH_NORM_RELU_GRAD_KERNEL,
  BATCH_NORM_RELU_KERNEL,
  BATCH_NORM_RELU_SUMS_KERNEL,
  NATIVE_BACKEND_NAME,
  NATIVE_KERNELS,
  nativeInfo,
  registerNativeBackend,
} from '@mat/native';
import { RELU_GRAD_KERNEL } from '../../packages/native/src/relu-grad';
import { describeNative } from './helpers';

describeNative('registerNativeBackend', () => {
  it('registers a backend that has every cpu kernel, the hot ones native', async () => {
    expect(registerNativeBackend()).toBe(true);
    expect(registerNativeBackend()).toBe(true); // idempotent
    const cpu = tf
      .getKernelsForBackend('cpu')
      .map((k) => k.kernelName)
      .sort();
    const native = tf.getKernelsForBackend(NATIVE_BACKEND_NAME).map((k) => k.kernelName);
    // Every cpu kernel, plus the fused kernels that only native backends have (the ReLU gradient; batch
    // norm + ReLU, its gradient and its parameter-gradient sums).
    const nativeOnly = [
      RELU_GRAD_KERNEL,
      BATCH_NORM_RELU_KERNEL,
      BATCH_NORM_RELU_GRAD_KERNEL,
      BATCH_NORM_RELU_SUMS_KERNEL,
    ];
    expect(native.filter((k) => !nativeOnly.includes(k)).sort()).toEqual(cpu);
    expect(native).toEqual(expect.arrayContaining(nativeOnly));
    for (const k of NATIVE_KERNELS) {
      expect(tf.getKernel(k.kernelName, NATIVE_BACKEND_NAME).kernelFunc).not.toBe(
        tf.getKernel(k.kernelName, 'cpu').kernelFunc,
      );
    }
    expect(await tf.setBackend(NATIVE_BACKEND_NAME)).toBe(true);
    expect(tf.getBackend()).toBe('native');
  });

  it('can register under another name', async () => {
    expect(registerNativeBackend('native-b')).toBe(true);
    expect(await tf.setBackend('native-b')).toBe(true);
    const y = tf.conv2d(
      tf.ones([1, 3, 3, 1]) as tf.Tensor4D,
      tf.ones([3, 3, 1, 1]) as tf.Tensor4D,
      1,
      'same',
    );
    expect(Array.from(y.dataSync())).toEqual([4, 6, 4, 6, 9, 6, 4, 6, 4]);
    y.dispose();
  });

  it('nativeInfo reports the build, SIMD level and threads', () => {
    const info = nativeInfo();
    expect(info.available).toBe(true);
    expect(['avx512', 'avx2', 'scalar']).toContain(info.simd);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.microTile).toMatch(/^\d+x\d+$/);
    expect(info.kernels).toEqual(
      expect.arrayContaining(['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul']),
    );
  });
});

describe('without the addon', () => {
  it('registerNativeBackend returns false and nativeInfo says why', () => {
    const saved = process.env.MAT_NATIVE_DISABLE;
    process.env.MAT_NATIVE_DISABLE = '1';
    try {
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const fresh = require('@mat/native') as typeof import('@mat/native');
        expect(fresh.registerNativeBackend('native-disabled')).toBe(false);
        expect(tf.findBackendFactory('native-disabled')).toBeFalsy();
        expect(fresh.nativeInfo()).toMatchObject({
          available: false,
          reason: expect.stringContaining('MAT_NATIVE_DISABLE'),
        });
        expect(() => fresh.setNativeThreads(2)).toThrow(/addon unavailable/);
      });
    } finally {
      if (saved === undefined) delete process.env.MAT_NATIVE_DISABLE;
      else process.env.MAT_NATIVE_DISABLE = saved;
    }
  });
});
