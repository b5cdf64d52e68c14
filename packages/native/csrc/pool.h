// 2-D max pooling on NHWC tensors (window clipped at the borders, as tfjs does for 'same' padding).
#pragma once

namespace matn {

struct PoolGeom {
  int batch, inH, inW, channels, outH, outW, fH, fW, strideH, strideW, dilH, dilW, padTop, padLeft;
};

void max_pool(const PoolGeom& g, const float* x, float* y);

/**
 * dx = the gradient of max_pool: each dy goes to the first maximum of its window in row-major scan order
 * (the tfjs cpu rule, which matters for ties such as the zeros after a ReLU). Overwrites dx.
 */
void max_pool_grad(const PoolGeom& g, const float* dy, const float* x, float* dx);

/** Average pooling; the divisor counts only the taps inside the image (tfjs semantics). */
void avg_pool(const PoolGeom& g, const float* x, float* y);
/** Its gradient as the tfjs cpu backend computes it: every tap gets dy / (fH * fW), even at the borders. */
void avg_pool_grad(const PoolGeom& g, const float* dy, float* dx);

}  // namespace matn
