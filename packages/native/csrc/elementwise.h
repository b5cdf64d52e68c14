// Memory-bound element-wise kernels on float32 arrays, split over the thread pool for large sizes.
#pragma once

namespace matn {

/** y = max(x, 0) (NaN passes through, as in tfjs). */
void relu(const float* x, float* y, long n);
/** y = x > 0 ? 1 : (NaN ? NaN : alpha): tfjs Step. */
void step(const float* x, float* y, long n, float alpha);
/** z = a * b, same length. */
void mul(const float* a, const float* b, float* z, long n);
/** z = a + b, same length. */
void add(const float* a, const float* b, float* z, long n);
/** z[i, j] = a[i, j] + b[j] (bias over the last dimension, or any trailing-shape broadcast). */
void add_row(const float* a, const float* b, float* z, long rows, long cols);
/** y[j] = sum_i x[i, j]: reduce every leading axis (a bias gradient). */
void sum_rows(const float* x, float* y, long rows, long cols);

}  // namespace matn
