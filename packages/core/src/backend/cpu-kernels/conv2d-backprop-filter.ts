import * as tf from '@tensorflow/tfjs-core';
import { filterGradientInfo } from '../filter-gradient-info';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

/**
 * Conv2DBackpropFilter for the cpu backend, replacing the built-in one. tfjs-backend-cpu 4.22 reads every
 * element through TensorBuffer.get(b, y, x, c) (a varargs call with bounds arithmetic per multiply-add) and
 * runs at ~2 MFLOP/s: on a WRN-10-1 at batch 2 it took 17.5 s of an 18.5 s backward pass (this version:
 * 0.1 s), making cpu training and every cpu-referenced test impractically slow.
 *
 *   dW[i, j, c, k] = Σ_{n, a, b} x[n, a·s_h + i − pad_top, b·s_w + j − pad_left, c] · dy[n, a, b, k]
 *
 * Same sum, walked in memory order over the flat NHWC arrays (the inner loop runs over k, contiguous in
 * both dy and dW), accumulating in float64 like the built-in, so results agree to float32 rounding.
 * NHWC only, as everywhere in MAT.
 */
const conv2DBackpropFilter: tf.KernelFunc = (args) => {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const backend = args.backend as MathBackendCPU;
  const info = filterGradientInfo(args, 'cpu');
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth, padInfo } = info;
  const xValues = backend.data.get(x.dataId).values as Float32Array;
  const dyValues = backend.data.get(dy.dataId).values as Float32Array;

  const sums = new Float64Array(filterHeight * filterWidth * inChannels * outChannels);
  for (let n = 0; n < batchSize; n++) {
    for (let a = 0; a < outHeight; a++) {
      for (let b = 0; b < outWidth; b++) {
        const dyBase = ((n * outHeight + a) * outWidth + b) * outChannels;
        for (let i = 0; i < filterHeight; i++) {
          const y = a * strideHeight + i - padInfo.top;
          if (y < 0 || y >= inHeight) continue;
          for (let j = 0; j < filterWidth; j++) {
            const xCol = b * strideWidth + j - padInfo.left;
            if (xCol < 0 || xCol >= inWidth) continue;
            const xBase = ((n * inHeight + y) * inWidth + xCol) * inChannels;
            const wBase = (i * filterWidth + j) * inChannels * outChannels;
            for (let c = 0; c < inChannels; c++) {
              const xv = xValues[xBase + c];
              if (xv === 0) continue; // common after a ReLU
              const w = wBase + c * outChannels;
              for (let k = 0; k < outChannels; k++) sums[w + k] += xv * dyValues[dyBase + k];
            }
          }
        }
      }
    }
  }
  return backend.makeTensorInfo(info.filterShape, 'float32', Float32Array.from(sums));
};

export const cpuConv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'cpu',
  kernelFunc: conv2DBackpropFilter,
};
