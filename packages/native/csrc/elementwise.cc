#include "elementwise.h"

#include <algorithm>
#include <vector>

#include "thread_pool.h"

namespace matn {
namespace {

constexpr long kGrain = 1 << 16;  // below this, threads cost more than they save

/** Runs body(begin, end) over [0, n), split over the pool when large. */
template <class F>
void chunked(long n, F body) {
  if (n < 2 * kGrain) return body(0L, n);
  parallel_for((n + kGrain - 1) / kGrain, [&](long c0, long c1, int) { body(c0 * kGrain, std::min(n, c1 * kGrain)); });
}

// The loops live in plain functions with every operand in a local (not read through a lambda's captures), so
// GCC can if-convert the selects and vectorise them; the sign of x is random, so branches would mispredict.

void relu_range(const float* x, float* y, long b, long e) {
  for (long i = b; i < e; ++i) y[i] = x[i] < 0.f ? 0.f : x[i];
}

void step_range(const float* x, float* y, long b, long e, float alpha) {
  for (long i = b; i < e; ++i) {
    const float v = x[i] > 0.f ? 1.f : alpha;
    y[i] = x[i] == x[i] ? v : x[i];
  }
}

void mul_range(const float* a, const float* b, float* z, long s, long e) {
  for (long i = s; i < e; ++i) z[i] = a[i] * b[i];
}

void add_range(const float* a, const float* b, float* z, long s, long e) {
  for (long i = s; i < e; ++i) z[i] = a[i] + b[i];
}

void add_row_range(const float* a, const float* b, float* z, long r0, long r1, long cols) {
  for (long r = r0; r < r1; ++r) {
    const float* ar = a + r * cols;
    float* zr = z + r * cols;
    for (long j = 0; j < cols; ++j) zr[j] = ar[j] + b[j];
  }
}

}  // namespace

void relu(const float* x, float* y, long n) {
  chunked(n, [=](long b, long e) { relu_range(x, y, b, e); });
}

void step(const float* x, float* y, long n, float alpha) {
  chunked(n, [=](long b, long e) { step_range(x, y, b, e, alpha); });
}

void mul(const float* a, const float* b, float* z, long n) {
  chunked(n, [=](long s, long e) { mul_range(a, b, z, s, e); });
}

void add(const float* a, const float* b, float* z, long n) {
  chunked(n, [=](long s, long e) { add_range(a, b, z, s, e); });
}

void add_row(const float* a, const float* b, float* z, long rows, long cols) {
  const long rowGrain = std::max(1L, kGrain / std::max(1L, cols));
  if (rows < 2 * rowGrain) return add_row_range(a, b, z, 0, rows, cols);
  parallel_for((rows + rowGrain - 1) / rowGrain, [&](long c0, long c1, int) {
    add_row_range(a, b, z, c0 * rowGrain, std::min(rows, c1 * rowGrain), cols);
  });
}

void sum_rows(const float* x, float* y, long rows, long cols) {
  // Double accumulators: tfjs sums in JS numbers, and a bias gradient adds up to ~1e5 terms.
  std::vector<double> acc(cols, 0.0);
  for (long r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (long j = 0; j < cols; ++j) acc[j] += xr[j];
  }
  for (long j = 0; j < cols; ++j) y[j] = static_cast<float>(acc[j]);
}

}  // namespace matn
