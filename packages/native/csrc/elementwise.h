// Memory-bound element-wise kernels on float32 arrays, split over the thread pool for large sizes.
#pragma once

namespace matn {

/** y = max(x, 0) (NaN passes through, as in tfjs). */
void relu(const float* x, float* y, long n);
/** y = x > 0 ? 1 : (NaN ? NaN : alpha): tfjs Step. */
void step(const float* x, float* y, long n, float alpha);
/** dx = dy * step(x): the ReLU gradient in one pass, bit-identical to tfjs's mul(dy, step(x)). */
void relu_grad(const float* dy, const float* x, float* dx, long n);
/** y = sign(x) with tfjs's rule: NaN and -0 give 0. */
void sign(const float* x, float* y, long n);
/** y = x > hi ? hi : (x < lo ? lo : x) (NaN passes), as tfjs ClipByValue. */
void clip(const float* x, float* y, long n, float lo, float hi);

/** Binary ops with tfjs cpu semantics (Maximum/Minimum propagate NaN like Math.max/min). */
enum class BinOp { Add = 0, Mul = 1, Sub = 2, Div = 3, Max = 4, Min = 5, SquaredDiff = 6 };
/** How an operand maps onto the n-element output: element-wise, one value, or a row repeated every `cols`. */
enum class Bcast { Full = 0, Scalar = 1, Row = 2 };

/** z[i] = op(a(i), b(i)) for i < n; a Row operand has `cols` values (n is a multiple of cols). */
void binary(BinOp op, const float* a, Bcast am, const float* b, Bcast bm, float* z, long n, long cols);
/** z[i, j] = a[i, j] + b[j]. */
void add_row(const float* a, const float* b, float* z, long rows, long cols);

}  // namespace matn
