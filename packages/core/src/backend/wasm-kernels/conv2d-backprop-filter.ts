import * as tf from '@tensorflow/tfjs-core';
import { filterGradientInfo } from '../filter-gradient-info';
import { callKernel, release } from './call-kernel';

/**
 * Conv2DBackpropFilter for the wasm backend (tfjs-backend-wasm 4.22 has no such kernel, so the gradient of
 * every conv2d w.r.t. its filter failed there).
 *
 * The filter gradient of y = conv2d(x, W, stride s, padding p) is itself a correlation:
 *
 *   dW[i, j, c, k] = Σ_{n, a, b} xpad[n, a·s_h + i, b·s_w + j, c] · dy[n, a, b, k]
 *
 * Read with c as the batch, n as the channel and dy as the filter, this is a *valid* conv2d of
 * xᵀ = x transposed to [C, H, W, N] (zero-padded by p) with dyᵀ = dy transposed to [OH, OW, N, K],
 * stride 1 and dilation s. Its output [C, FH', FW', K] (FH' ≥ FH when 'valid' padding leaves rows unread)
 * is cropped to FH × FW and transposed to the filter layout [FH, FW, C, K].
 *
 * This runs on the backend's XNNPACK Conv2D: ~6× faster here than the depth-1 case of the wasm
 * Conv3DBackpropFilterV2 (a plain loop) on a 64×32×32×16 → 32 layer, with float32 accumulation
 * (relative L2 error vs a float64 reference ~5e-6 on that layer).
 */
const conv2DBackpropFilter: tf.KernelFunc = (args) => {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const backend = args.backend as tf.KernelBackend;
  const info = filterGradientInfo(args, 'wasm');
  const { inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth, inChannels, outChannels, padInfo } = info;

  // Rows/columns of the padded input that the forward pass read: (O-1)·s + F starting at -padTop.
  const padBottom = Math.max(0, (outHeight - 1) * strideHeight + filterHeight - inHeight - padInfo.top);
  const padRight = Math.max(0, (outWidth - 1) * strideWidth + filterWidth - inWidth - padInfo.left);

  const xT = callKernel(tf.Transpose, backend, 'wasm', { x }, { perm: [3, 1, 2, 0] });
  const dyT = callKernel(tf.Transpose, backend, 'wasm', { x: dy }, { perm: [1, 2, 0, 3] });
  const correlation = callKernel(
    tf.Conv2D,
    backend,
    'wasm',
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [padInfo.top, padBottom],
        [padInfo.left, padRight],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: [strideHeight, strideWidth],
    },
  );
  release(backend, xT, dyT);

  const [, fullHeight, fullWidth] = correlation.shape;
  let cropped = correlation;
  if (fullHeight !== filterHeight || fullWidth !== filterWidth) {
    cropped = callKernel(
      tf.Slice,
      backend,
      'wasm',
      { x: correlation },
      { begin: [0, 0, 0, 0], size: [inChannels, filterHeight, filterWidth, outChannels] },
    );
    release(backend, correlation);
  }
  const dW = callKernel(tf.Transpose, backend, 'wasm', { x: cropped }, { perm: [1, 2, 0, 3] });
  release(backend, cropped);
  return dW;
};

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};
