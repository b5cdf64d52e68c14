import * as tf from '@tensorflow/tfjs-core';
import {
  nativeInfo,
  setNativeSimd,
  setNativeThreads,
  takeNativePoolStats,
  type SimdLevel,
} from '@mat/native';
import { Rng } from '../../packages/core/src/rng';
import { describeNative, expectParity, randomTensor } from './helpers';

/** Conv forward and both gradients, a dense layer and a max pool: every GEMM/packing path in one probe. */
function probe() {
  const rng = new Rng(77);
  const x = randomTensor(rng, [3, 13, 11, 7]) as tf.Tensor4D;
  const w = randomTensor(rng, [3, 3, 7, 19]) as tf.Tensor4D;
  const d = randomTensor(rng, [19, 23]) as tf.Tensor2D;
  const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
    const y = tf.maxPool(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')), 2, 2, 'same');
    return tf.sum(tf.matMul(tf.reshape(y, [-1, 19]), c as tf.Tensor2D));
  };
  const [dx, dw, dd] = tf.grads(f)([x, w, d]);
  return { y: tf.conv2d(x, w, 2, 'valid'), dx, dw, dd };
}

describeNative('every SIMD level and thread count gives the cpu results', () => {
  const detected = nativeInfo().detectedSimd as SimdLevel;
  const levels = (['scalar', 'avx2', 'avx512'] as SimdLevel[]).slice(
    0,
    ['scalar', 'avx2', 'avx512'].indexOf(detected) + 1,
  );
  const before = nativeInfo();

  afterAll(() => {
    setNativeSimd(before.simd as SimdLevel);
    setNativeThreads(before.threads);
  });

  for (const level of levels)
    for (const threads of [1, 2]) {
      it(`${level}, ${threads} thread(s)`, async () => {
        setNativeSimd(level);
        setNativeThreads(threads);
        expect(nativeInfo()).toMatchObject({ simd: level, threads });
        await expectParity(`${level}/${threads}`, probe);
      });
    }

  it('gives bit-identical results for 1 and 2 threads (fixed reduction bands, not per-thread sums)', async () => {
    setNativeSimd(before.simd as SimdLevel);
    await tf.setBackend('native');
    const results = [1, 2].map((threads) => {
      setNativeThreads(threads);
      return tf.tidy(() => {
        const rng = new Rng(78);
        const x = randomTensor(rng, [4, 30, 30, 8]) as tf.Tensor4D; // enough pixels for several bands
        const w = randomTensor(rng, [3, 3, 8, 16]) as tf.Tensor4D;
        const r = randomTensor(rng, [4, 30, 30, 16]);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), r)),
        )([x, w]);
        const stats = tf.moments(tf.conv2d(x, w, 1, 'same'), [0, 1, 2]);
        return [dx, dw, stats.mean, stats.variance].map((t) => Array.from(t.dataSync()));
      });
    });
    expect(results[1]).toEqual(results[0]);
  });

  it('counts how parallel calls shared their work (bench --profile), and resets on each take', async () => {
    await tf.setBackend('native');
    setNativeThreads(1);
    takeNativePoolStats();
    tf.dispose(probe());
    // One thread: nothing runs through the pool.
    expect(takeNativePoolStats()).toEqual({ calls: 0, chunks: 0, callerChunks: 0, callerWaitMs: 0 });
    setNativeThreads(2);
    tf.dispose(probe());
    const s = takeNativePoolStats();
    expect(s.calls).toBeGreaterThan(0);
    expect(s.chunks).toBeGreaterThanOrEqual(s.calls);
    // The calling thread always takes part; on a busy machine it may run every chunk itself.
    expect(s.callerChunks).toBeGreaterThan(0);
    expect(s.callerChunks).toBeLessThanOrEqual(s.chunks);
    expect(s.callerWaitMs).toBeGreaterThanOrEqual(0);
    expect(takeNativePoolStats().calls).toBe(0);
  });

  it('rejects bad settings with a message naming the problem', () => {
    expect(() => setNativeThreads(0)).toThrow(/setNativeThreads/);
    expect(() => setNativeThreads(1.5)).toThrow(/integer/);
    expect(() => setNativeSimd('sse9' as SimdLevel)).toThrow(/unknown level 'sse9'/);
  });
});
