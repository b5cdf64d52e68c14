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

void relu_grad_range(const float* dy, const float* x, float* dx, long b, long e) {
  for (long i = b; i < e; ++i) {
    const float s = x[i] > 0.f ? 1.f : 0.f;
    dx[i] = dy[i] * (x[i] == x[i] ? s : x[i]);  // a NaN x gives NaN, as step(NaN) = NaN does
  }
}

void sign_range(const float* x, float* y, long b, long e) {
  for (long i = b; i < e; ++i) {
    const float v = x[i] > 0.f ? 1.f : 0.f;
    y[i] = x[i] < 0.f ? -1.f : v;
  }
}

void clip_range(const float* x, float* y, long b, long e, float lo, float hi) {
  for (long i = b; i < e; ++i) {
    const float v = x[i] < lo ? lo : x[i];
    y[i] = x[i] > hi ? hi : v;
  }
}

struct AddOp {
  static float f(float a, float b) { return a + b; }
};
struct MulOp {
  static float f(float a, float b) { return a * b; }
};
struct SubOp {
  static float f(float a, float b) { return a - b; }
};
struct DivOp {
  static float f(float a, float b) { return a / b; }
};
struct MaxOp {  // Math.max: NaN if either is NaN
  static float f(float a, float b) { return (a > b || a != a) ? a : b; }
};
struct MinOp {
  static float f(float a, float b) { return (a < b || a != a) ? a : b; }
};
struct SquaredDiffOp {
  static float f(float a, float b) { return (a - b) * (a - b); }
};

/** Rows [r0, r1) of a rows x cols output; each operand is full (stride cols), scalar, or a row. */
template <class Op, Bcast AM, Bcast BM>
void binary_rows(const float* a, const float* b, float* z, long r0, long r1, long cols) {
  for (long r = r0; r < r1; ++r) {
    const float* ar = AM == Bcast::Full ? a + r * cols : a;
    const float* br = BM == Bcast::Full ? b + r * cols : b;
    float* zr = z + r * cols;
    if (AM == Bcast::Scalar) {
      const float av = a[0];
      for (long j = 0; j < cols; ++j) zr[j] = Op::f(av, br[j]);
    } else if (BM == Bcast::Scalar) {
      const float bv = b[0];
      for (long j = 0; j < cols; ++j) zr[j] = Op::f(ar[j], bv);
    } else {
      for (long j = 0; j < cols; ++j) zr[j] = Op::f(ar[j], br[j]);
    }
  }
}

template <class Op, Bcast AM, Bcast BM>
void binary_split(const float* a, const float* b, float* z, long n, long cols) {
  // Full and scalar operands: view the output as rows of kGrain (or fewer); a Row operand fixes the width.
  if (AM != Bcast::Row && BM != Bcast::Row) cols = std::min(n, kGrain);
  if (cols <= 0) return;
  const long rows = n / cols, tail = n - rows * cols;
  const long rowGrain = std::max(1L, kGrain / cols);
  if (rows < 2 * rowGrain) {
    binary_rows<Op, AM, BM>(a, b, z, 0, rows, cols);
  } else {
    parallel_for((rows + rowGrain - 1) / rowGrain, [&](long c0, long c1, int) {
      binary_rows<Op, AM, BM>(a, b, z, c0 * rowGrain, std::min(rows, c1 * rowGrain), cols);
    });
  }
  if (tail > 0) {  // only without Row operands: the last partial "row"
    const long off = rows * cols;
    binary_rows<Op, AM, BM>(AM == Bcast::Full ? a + off : a, BM == Bcast::Full ? b + off : b, z + off, 0, 1, tail);
  }
}

template <class Op>
void binary_op(const float* a, Bcast am, const float* b, Bcast bm, float* z, long n, long cols) {
#define MATN_CASE(A, B) \
  if (am == Bcast::A && bm == Bcast::B) return binary_split<Op, Bcast::A, Bcast::B>(a, b, z, n, cols);
  MATN_CASE(Full, Full)
  MATN_CASE(Full, Scalar)
  MATN_CASE(Scalar, Full)
  MATN_CASE(Full, Row)
  MATN_CASE(Row, Full)
  MATN_CASE(Scalar, Scalar)
#undef MATN_CASE
}

}  // namespace

void relu(const float* x, float* y, long n) {
  chunked(n, [=](long b, long e) { relu_range(x, y, b, e); });
}

void step(const float* x, float* y, long n, float alpha) {
  chunked(n, [=](long b, long e) { step_range(x, y, b, e, alpha); });
}

void relu_grad(const float* dy, const float* x, float* dx, long n) {
  chunked(n, [=](long b, long e) { relu_grad_range(dy, x, dx, b, e); });
}

void sign(const float* x, float* y, long n) {
  chunked(n, [=](long b, long e) { sign_range(x, y, b, e); });
}

void clip(const float* x, float* y, long n, float lo, float hi) {
  chunked(n, [=](long b, long e) { clip_range(x, y, b, e, lo, hi); });
}

void binary(BinOp op, const float* a, Bcast am, const float* b, Bcast bm, float* z, long n, long cols) {
  switch (op) {
    case BinOp::Add:
      return binary_op<AddOp>(a, am, b, bm, z, n, cols);
    case BinOp::Mul:
      return binary_op<MulOp>(a, am, b, bm, z, n, cols);
    case BinOp::Sub:
      return binary_op<SubOp>(a, am, b, bm, z, n, cols);
    case BinOp::Div:
      return binary_op<DivOp>(a, am, b, bm, z, n, cols);
    case BinOp::Max:
      return binary_op<MaxOp>(a, am, b, bm, z, n, cols);
    case BinOp::Min:
      return binary_op<MinOp>(a, am, b, bm, z, n, cols);
    case BinOp::SquaredDiff:
      return binary_op<SquaredDiffOp>(a, am, b, bm, z, n, cols);
  }
}

void add_row(const float* a, const float* b, float* z, long rows, long cols) {
  binary(BinOp::Add, a, Bcast::Full, b, Bcast::Row, z, rows * cols, cols);
}

}  // namespace matn
