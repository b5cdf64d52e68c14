// Reductions and layout kernels on float32: sums over a contiguous range of axes, tiling, batch norm.
#pragma once

namespace matn {

/**
 * x viewed as [outer, reduce, inner]: y[o, i] = sum_r term(x[o, r, i]) with term(v) = v, or the float32
 * quotient v / divisor when divisor > 0 (tfjs Mean divides before summing). Sums are accumulated in double,
 * like tfjs's JS-number sums.
 */
void reduce_sum(const float* x, long outer, long reduce, long inner, float divisor, float* y);

/** out = x repeated reps[d] times along each of its `rank` (<= 8) axes (tfjs Tile). */
void tile(const float* x, const int* shape, const int* reps, int rank, float* out);

/**
 * y = offset + (x - mean) * scale / sqrt(variance + eps) per channel of the last axis (C = channels), then
 * max(y, 0) when `relu` (the fused pre-activation batch norm + ReLU: the same bits as the two kernels). Each
 * parameter array has length C or 1; scale/offset may be null (1 and 0).
 */
void batch_norm(const float* x, long n, long channels, const float* mean, long meanLen, const float* variance,
                long varLen, const float* scale, long scaleLen, const float* offset, long offsetLen, float eps,
                bool relu, float* y);

/**
 * The input gradient of y = relu(batch_norm(x)) with per-channel slope factor[c] = scale * rsqrt(var + eps):
 * dx = (dy * step(y)) * factor[c], in that order, so the same bits as the ReLU gradient followed by the batch
 * norm's dx multiply. One pass instead of two. n is a multiple of channels.
 */
void batch_norm_relu_grad(const float* dy, const float* y, const float* factor, long n, long channels, float* dx);

/**
 * The per-channel sums the batch-norm parameter gradients need, for g = dy * step(y) (the ReLU gradient, never
 * stored): sumG[c] = sum g, sumGXc[c] = sum g * (x - mean[c]), each product rounded to float32 and the sums
 * accumulated in double over the same fixed row bands as reduce_sum, so bit-identical to the unfused kernels
 * (ReluGrad, Sub, Multiply, Sum) and to any thread count. sumGXc is skipped when null.
 */
void batch_norm_relu_sums(const float* dy, const float* y, const float* x, const float* mean, long n, long channels,
                          float* sumG, float* sumGXc);

}  // namespace matn
