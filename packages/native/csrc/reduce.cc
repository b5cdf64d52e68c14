#include "reduce.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "thread_pool.h"

namespace matn {
namespace {

/** acc[i] += term(x[r, i]) for rows [r0, r1) of a reduce x inner block. */
void accumulate(const float* x, long r0, long r1, long inner, float divisor, double* acc) {
  for (long r = r0; r < r1; ++r) {
    const float* row = x + r * inner;
    if (divisor > 0.f) {
      for (long i = 0; i < inner; ++i) acc[i] += static_cast<double>(row[i] / divisor);
    } else {
      for (long i = 0; i < inner; ++i) acc[i] += static_cast<double>(row[i]);
    }
  }
}

}  // namespace

void reduce_sum(const float* x, long outer, long reduce, long inner, float divisor, float* y) {
  const long work = outer * reduce * inner;
  if (outer == 1 && work >= (1L << 17) && reduce >= 8) {
    // One output row (a bias gradient or batch-norm statistic): 8 fixed bands of rows summed separately, then
    // added in band order, so the result does not depend on the thread count or on scheduling.
    constexpr long kBands = 8;
    std::vector<std::vector<double>> partial(kBands, std::vector<double>(inner, 0.0));
    parallel_for(kBands, [&](long b0, long b1, int) {
      for (long band = b0; band < b1; ++band)
        accumulate(x, reduce * band / kBands, reduce * (band + 1) / kBands, inner, divisor, partial[band].data());
    });
    for (long i = 0; i < inner; ++i) {
      double s = 0.0;
      for (const auto& p : partial) s += p[i];
      y[i] = static_cast<float>(s);
    }
    return;
  }
  auto rows = [&](long o0, long o1) {
    std::vector<double> acc(inner);
    for (long o = o0; o < o1; ++o) {
      std::fill(acc.begin(), acc.end(), 0.0);
      accumulate(x + o * reduce * inner, 0, reduce, inner, divisor, acc.data());
      for (long i = 0; i < inner; ++i) y[o * inner + i] = static_cast<float>(acc[i]);
    }
  };
  if (outer >= 2 && work >= (1L << 17))
    parallel_for(outer, [&](long o0, long o1, int) { rows(o0, o1); });
  else
    rows(0, outer);
}

namespace {

/** Fills the tiled block of axis d (and all inner axes) at out, from x; returns its size in floats. */
long tile_axis(const float* x, const int* shape, const int* reps, const long* xStride, const long* oStride, int rank,
               int d, float* out) {
  const long oneCopy = shape[d] * oStride[d];  // floats of one repetition of axis d
  if (d == rank - 1) {
    std::memcpy(out, x, sizeof(float) * shape[d]);
  } else {
    for (int i = 0; i < shape[d]; ++i)
      tile_axis(x + i * xStride[d], shape, reps, xStride, oStride, rank, d + 1, out + i * oStride[d]);
  }
  // The first repetition is built: copy it reps[d] - 1 more times.
  for (int r = 1; r < reps[d]; ++r) std::memcpy(out + r * oneCopy, out, sizeof(float) * oneCopy);
  return oneCopy * reps[d];
}

}  // namespace

void tile(const float* x, const int* shape, const int* reps, int rank, float* out) {
  if (rank == 0) {
    out[0] = x[0];
    return;
  }
  long xStride[8], oStride[8];
  xStride[rank - 1] = oStride[rank - 1] = 1;
  for (int d = rank - 2; d >= 0; --d) {
    xStride[d] = xStride[d + 1] * shape[d + 1];
    oStride[d] = oStride[d + 1] * shape[d + 1] * reps[d + 1];
  }
  for (int d = 0; d < rank; ++d)
    if (shape[d] == 0 || reps[d] == 0) return;  // empty output
  tile_axis(x, shape, reps, xStride, oStride, rank, 0, out);
}

void batch_norm(const float* x, long n, long channels, const float* mean, long meanLen, const float* variance,
                long varLen, const float* scale, long scaleLen, const float* offset, long offsetLen, float eps,
                bool relu, float* y) {
  // Per channel: y = off + (x - m) * coef, coef = s / sqrt(v + eps), in double as tfjs's JS arithmetic.
  std::vector<double> coef(channels), shift(channels), off(channels);
  for (long c = 0; c < channels; ++c) {
    const double s = scale ? scale[c % scaleLen] : 1.0;
    coef[c] = s / std::sqrt(static_cast<double>(variance[c % varLen]) + static_cast<double>(eps));
    shift[c] = mean[c % meanLen];
    off[c] = offset ? offset[c % offsetLen] : 0.0;
  }
  const long rows = channels > 0 ? n / channels : 0;
  auto body = [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      const float* xr = x + r * channels;
      float* yr = y + r * channels;
      if (relu) {
        for (long c = 0; c < channels; ++c) {
          const float v = static_cast<float>(off[c] + (xr[c] - shift[c]) * coef[c]);
          yr[c] = v < 0.f ? 0.f : v;  // tfjs Relu: NaN passes
        }
      } else {
        for (long c = 0; c < channels; ++c) yr[c] = static_cast<float>(off[c] + (xr[c] - shift[c]) * coef[c]);
      }
    }
  };
  if (n >= (1L << 17))
    parallel_for(rows, [&](long r0, long r1, int) { body(r0, r1); });
  else
    body(0, rows);
}

namespace {

void bn_relu_grad_rows(const float* dy, const float* y, const float* factor, float* dx, long r0, long r1, long C) {
  for (long r = r0; r < r1; ++r) {
    const float* dyr = dy + r * C;
    const float* yr = y + r * C;
    float* dxr = dx + r * C;
    for (long c = 0; c < C; ++c) {
      const float s = yr[c] > 0.f ? 1.f : 0.f;
      dxr[c] = (dyr[c] * (yr[c] == yr[c] ? s : yr[c])) * factor[c];
    }
  }
}

/** sumG[c] += g, sumGXc[c] += g * (x - mean) for rows [r0, r1), g = dy * step(y). */
void bn_relu_sum_rows(const float* dy, const float* y, const float* x, const float* mean, long r0, long r1, long C,
                      double* sumG, double* sumGXc) {
  for (long r = r0; r < r1; ++r) {
    const float* dyr = dy + r * C;
    const float* yr = y + r * C;
    const float* xr = x ? x + r * C : nullptr;
    for (long c = 0; c < C; ++c) {
      const float s = yr[c] > 0.f ? 1.f : 0.f;
      const float g = dyr[c] * (yr[c] == yr[c] ? s : yr[c]);
      sumG[c] += static_cast<double>(g);
      if (xr) sumGXc[c] += static_cast<double>(g * (xr[c] - mean[c]));
    }
  }
}

}  // namespace

void batch_norm_relu_grad(const float* dy, const float* y, const float* factor, long n, long channels, float* dx) {
  const long rows = channels > 0 ? n / channels : 0;
  if (n >= (1L << 17))
    parallel_for(rows, [&](long r0, long r1, int) { bn_relu_grad_rows(dy, y, factor, dx, r0, r1, channels); });
  else
    bn_relu_grad_rows(dy, y, factor, dx, 0, rows, channels);
}

void batch_norm_relu_sums(const float* dy, const float* y, const float* x, const float* mean, long n, long channels,
                          float* sumG, float* sumGXc) {
  const long rows = channels > 0 ? n / channels : 0;
  const bool centred = sumGXc != nullptr;
  // The band rule of reduce_sum (one output row), so the sums round exactly as the unfused Sum kernels'.
  const long bands = (n >= (1L << 17) && rows >= 8) ? 8 : 1;
  std::vector<std::vector<double>> g(bands, std::vector<double>(channels, 0.0));
  std::vector<std::vector<double>> gx(centred ? bands : 0, std::vector<double>(channels, 0.0));
  parallel_for(bands, [&](long b0, long b1, int) {
    for (long band = b0; band < b1; ++band)
      bn_relu_sum_rows(dy, y, centred ? x : nullptr, mean, rows * band / bands, rows * (band + 1) / bands, channels,
                       g[band].data(), centred ? gx[band].data() : nullptr);
  });
  for (long c = 0; c < channels; ++c) {
    double s = 0.0, sx = 0.0;
    for (long band = 0; band < bands; ++band) {
      s += g[band][c];
      if (centred) sx += gx[band][c];
    }
    sumG[c] = static_cast<float>(s);
    if (centred) sumGXc[c] = static_cast<float>(sx);
  }
}

}  // namespace matn
