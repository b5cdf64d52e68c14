import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * MaxPoolGrad for the wasm backend, replacing the built-in one. tfjs-backend-wasm 4.22's C++ kernel seeds
 * its running maximum with std::numeric_limits<float>::min() — the smallest *positive* float, not the most
 * negative — so in any window whose values are all ≤ 0 no element is ever selected and that window's
 * gradient is silently dropped (found by the cpu/wasm parity test: relative error 0.3–0.4 on inputs in
 * [-1, 1]). Behind a ReLU the dropped gradients would have been zeroed anyway; anywhere else they are wrong.
 *
 *   dx[b, y, x, c] = Σ over output cells (oy, ox) whose window's first maximum is at (y, x): dy[b, oy, ox, c]
 *
 * Same selection rule as the cpu backend: the first strictly greatest value in row-major window order.
 * Runs in JS over the wasm heap; the inner loop walks channels, which are contiguous in NHWC.
 */
const maxPoolGrad: tf.KernelFunc = (args) => {
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const backend = args.backend as BackendWasm;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
  const { effectiveFilterHeight, effectiveFilterWidth } = info;

  // Allocate first: makeOutput may grow the wasm memory, which detaches views taken before it.
  const out = backend.makeOutput(input.shape, 'float32');
  const x = backend.typedArrayFromHeap(input);
  const dyValues = backend.typedArrayFromHeap(dy);
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);

  const best = new Float64Array(channels);
  const bestAt = new Int32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let fy = 0; fy < effectiveFilterHeight; fy += dilationHeight) {
          const y = oy * strideHeight - padInfo.top + fy;
          if (y < 0 || y >= inHeight) continue;
          for (let fx = 0; fx < effectiveFilterWidth; fx += dilationWidth) {
            const xCol = ox * strideWidth - padInfo.left + fx;
            if (xCol < 0 || xCol >= inWidth) continue;
            const base = ((b * inHeight + y) * inWidth + xCol) * channels;
            for (let c = 0; c < channels; c++) {
              if (x[base + c] > best[c]) {
                best[c] = x[base + c];
                bestAt[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; c++) {
          if (bestAt[c] >= 0) dx[bestAt[c]] += dyValues[dyBase + c];
        }
      }
    }
  }
  return out;
};

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad,
};
