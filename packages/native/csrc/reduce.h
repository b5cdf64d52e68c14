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
 * y = offset + (x - mean) * scale / sqrt(variance + eps) per channel of the last axis (C = channels). Each
 * parameter array has length C or 1; scale/offset may be null (1 and 0).
 */
void batch_norm(const float* x, long n, long channels, const float* mean, long meanLen, const float* variance,
                long varLen, const float* scale, long scaleLen, const float* offset, long offsetLen, float eps,
                float* y);

}  // namespace matn
