#include "conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "thread_pool.h"
#include "winograd.h"

namespace matn {
namespace {

/** Output pixel m = ((n * outH) + oh) * outW + ow, decoded. */
struct Pixel {
  int n, oh, ow;
};

inline Pixel decode(const ConvGeom& g, long m) {
  const long hw = static_cast<long>(g.outH) * g.outW;
  const int n = static_cast<int>(m / hw);
  const int rem = static_cast<int>(m - n * hw);
  return {n, rem / g.outW, rem % g.outW};
}

/** The next output pixel in row-major order (no divisions in the per-row loops). */
inline void advance(const ConvGeom& g, Pixel& p) {
  if (++p.ow == g.outW) {
    p.ow = 0;
    if (++p.oh == g.outH) {
      p.oh = 0;
      ++p.n;
    }
  }
}

/** Input row/column offsets of every filter tap t = kh * fW + kw, so loops never divide by fW. */
struct Taps {
  std::vector<int> dh, dw;
  explicit Taps(const ConvGeom& g) : dh(g.fH * g.fW), dw(g.fH * g.fW) {
    for (int t = 0; t < g.fH * g.fW; ++t) {
      dh[t] = (t / g.fW) * g.dilH;
      dw[t] = (t % g.fW) * g.dilW;
    }
  }
};

/**
 * Writes im2col(x)[i0:i0+mc, k0:k0+kc] row-major (row stride kc) into dst, for the GEMM to read in place.
 * Column k is filter tap (kh, kw) = divmod(k / inC, fW) and channel k % inC; out-of-image taps are zero.
 * Each tap is one contiguous run of channels, so a row is a few block copies.
 */
void im2col_rows(const ConvGeom& g, const Taps& taps, const float* x, long i0, int mc, int k0, int kc, float* dst) {
  Pixel p = decode(g, i0);
  const int tap0 = k0 / g.inC, ci0 = k0 % g.inC;
  for (int r = 0; r < mc; ++r, dst += kc, advance(g, p)) {
    const int ih0 = p.oh * g.strideH - g.padTop, iw0 = p.ow * g.strideW - g.padLeft;
    const float* xn = x + static_cast<long>(p.n) * g.inH * g.inW * g.inC;
    int tap = tap0, ci = ci0;
    for (int kk = 0; kk < kc; ++tap, ci = 0) {
      const int ih = ih0 + taps.dh[tap], iw = iw0 + taps.dw[tap];
      const int run = std::min(g.inC - ci, kc - kk);
      if (ih >= 0 && ih < g.inH && iw >= 0 && iw < g.inW) {
        const float* s = xn + (static_cast<long>(ih) * g.inW + iw) * g.inC + ci;
        if (run == 1)
          dst[kk] = *s;
        else
          std::memcpy(dst + kk, s, sizeof(float) * run);
      } else {
        std::memset(dst + kk, 0, sizeof(float) * run);
      }
      kk += run;
    }
  }
}

/**
 * Packs im2col(x)^T[i0:i0+mc, p0:p0+kc]: rows are filter taps, the depth runs over output pixels p0.. .
 * Used for the filter gradient, where the GEMM sums over pixels.
 */
void pack_im2col_t(const Kernel& kr, const ConvGeom& g, const Taps& taps, const float* x, int i0, int mc, long p0,
                   int kc, float* dst) {
  const int MR = kr.mr;
  for (int ip = 0; ip < mc; ip += MR, dst += static_cast<long>(kc) * MR) {
    const int rows = std::min(MR, mc - ip);
    const int tap0 = (i0 + ip) / g.inC, ci0 = (i0 + ip) % g.inC;
    Pixel p = decode(g, p0);
    for (int k = 0; k < kc; ++k) {
      float* d = dst + static_cast<long>(k) * MR;
      const int ih0 = p.oh * g.strideH - g.padTop, iw0 = p.ow * g.strideW - g.padLeft;
      const float* xn = x + static_cast<long>(p.n) * g.inH * g.inW * g.inC;
      int tap = tap0, ci = ci0, r = 0;
      while (r < rows) {
        const int ih = ih0 + taps.dh[tap], iw = iw0 + taps.dw[tap];
        const int run = std::min(g.inC - ci, rows - r);
        if (ih >= 0 && ih < g.inH && iw >= 0 && iw < g.inW) {
          const float* s = xn + (static_cast<long>(ih) * g.inW + iw) * g.inC + ci;
          for (int t = 0; t < run; ++t) d[r + t] = s[t];
        } else {
          for (int t = 0; t < run; ++t) d[r + t] = 0.f;
        }
        r += run;
        ci = 0;
        ++tap;
      }
      for (; r < MR; ++r) d[r] = 0.f;
      advance(g, p);
    }
  }
}

/** dx += col2im(cols) for im2col rows [i0, i0+mc) and columns [j0, j0+nc); cols is mc x nc. */
void col2im_add(const ConvGeom& g, const Taps& taps, const float* cols, long i0, int mc, int j0, int nc, float* dx) {
  Pixel p = decode(g, i0);
  const int tap0 = j0 / g.inC, ci0 = j0 % g.inC;
  for (int r = 0; r < mc; ++r, advance(g, p)) {
    const int ih0 = p.oh * g.strideH - g.padTop, iw0 = p.ow * g.strideW - g.padLeft;
    float* dxn = dx + static_cast<long>(p.n) * g.inH * g.inW * g.inC;
    const float* src = cols + static_cast<long>(r) * nc;
    int tap = tap0, ci = ci0;
    for (int jj = 0; jj < nc; ++tap, ci = 0) {
      const int ih = ih0 + taps.dh[tap], iw = iw0 + taps.dw[tap];
      const int run = std::min(g.inC - ci, nc - jj);
      if (ih >= 0 && ih < g.inH && iw >= 0 && iw < g.inW) {
        float* d = dxn + (static_cast<long>(ih) * g.inW + iw) * g.inC + ci;
        const float* s = src + jj;
        for (int t = 0; t < run; ++t) d[t] += s[t];
      }
      jj += run;
    }
  }
}

void bias_activation(float* y, int rows, int n, const float* bias, Activation act) {
  for (int r = 0; r < rows; ++r, y += n) {
    if (bias)
      for (int j = 0; j < n; ++j) y[j] += bias[j];
    if (act == Activation::Relu)
      for (int j = 0; j < n; ++j) y[j] = y[j] < 0.f ? 0.f : y[j];
  }
}

}  // namespace

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, Activation act, float* y) {
  if (winograd_applies(g)) return winograd_forward(g, x, w, bias, act, y);
  const Kernel& kr = active_kernel();
  const int K = g.taps(), N = g.outC;
  const long M = g.rows();
  if (M == 0 || N == 0) return;
  if (K == 0) {
    std::memset(y, 0, sizeof(float) * M * N);
    bias_activation(y, static_cast<int>(M), N, bias, act);
    return;
  }
  const PackedB pw(kr, false, K, N, w, N);
  const bool pointwise = g.pointwise();
  const Taps taps(g);
  const long blocks = (M + MC - 1) / MC;
  parallel_for(blocks, [&](long b0, long b1, int) {
    thread_local Scratch abuf;
    float* a = pointwise ? nullptr : abuf.get(static_cast<size_t>(MC) * KC);
    for (long blk = b0; blk < b1; ++blk) {
      const long i0 = blk * MC;
      const int mc = static_cast<int>(std::min<long>(MC, M - i0));
      float* yb = y + i0 * N;
      for (int k0 = 0; k0 < K; k0 += KC) {
        const int kc = std::min(KC, K - k0);
        if (pointwise) {
          macro_kernel_rows(kr, mc, N, kc, x + i0 * g.inC + k0, g.inC, pw.slice(k0), yb, N, k0 > 0);
        } else {
          im2col_rows(g, taps, x, i0, mc, k0, kc, a);
          macro_kernel_rows(kr, mc, N, kc, a, kc, pw.slice(k0), yb, N, k0 > 0);
        }
      }
      bias_activation(yb, mc, N, bias, act);
    }
  });
}

void conv2d_backprop_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  if (winograd_applies(g)) return winograd_backprop_input(g, dy, w, dx);
  const Kernel& kr = active_kernel();
  const int K = g.outC, N = g.taps();
  const long M = g.rows();
  const long imageSize = static_cast<long>(g.inH) * g.inW * g.inC;
  if (g.pointwise()) {
    // dx[p, ci] = sum_co dy[p, co] * w[ci, co]: one GEMM, no scatter.
    return sgemm(false, true, static_cast<int>(M), g.inC, K, dy, K, w, K, dx, g.inC, false);
  }
  if (M == 0 || N == 0 || K == 0) {
    std::memset(dx, 0, sizeof(float) * g.batch * imageSize);
    return;
  }
  // op(B)[co, tap] = w[tap, co]; columns are processed in chunks so the cols buffer stays cache-sized.
  const PackedB pwt(kr, true, K, N, w, K);
  const Taps taps(g);
  const int chunk = std::min(N, 1024 / kr.nr * kr.nr);
  const long rowsPerImage = static_cast<long>(g.outH) * g.outW;
  // Threads own whole images, so their scatters into dx never overlap.
  parallel_for(g.batch, [&](long n0, long n1, int) {
    std::memset(dx + n0 * imageSize, 0, sizeof(float) * (n1 - n0) * imageSize);
    thread_local Scratch cbuf;
    float* cols = cbuf.get(static_cast<size_t>(MC) * chunk);
    for (long i0 = n0 * rowsPerImage; i0 < n1 * rowsPerImage; i0 += MC) {
      const int mc = static_cast<int>(std::min<long>(MC, n1 * rowsPerImage - i0));
      for (int j0 = 0; j0 < N; j0 += chunk) {
        const int nc = std::min(chunk, N - j0);
        for (int k0 = 0; k0 < K; k0 += KC) {
          const int kc = std::min(KC, K - k0);
          macro_kernel_rows(kr, mc, nc, kc, dy + i0 * K + k0, K, pwt.at(k0, j0), cols, nc, k0 > 0);
        }
        col2im_add(g, taps, cols, i0, mc, j0, nc, dx);
      }
    }
  });
}

void conv2d_backprop_filter(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  const Kernel& kr = active_kernel();
  const int M = g.taps(), N = g.outC;  // dw is [taps, outC]; the GEMM depth runs over output pixels
  const long P = g.rows();
  const size_t dwSize = static_cast<size_t>(M) * N;
  std::memset(dw, 0, sizeof(float) * dwSize);
  if (P == 0 || M == 0 || N == 0) return;
  const long slices = (P + KC - 1) / KC;
  // The pixels are summed in a fixed number of bands, each into its own copy, added in band order at the end:
  // the same result for any thread count and any scheduling.
  const long bands = std::min<long>(slices, 4);
  std::vector<std::vector<float>> partial(bands > 1 ? bands - 1 : 0, std::vector<float>(dwSize, 0.f));
  const bool pointwise = g.pointwise();
  const Taps taps(g);
  parallel_for(bands, [&](long b0, long b1, int) {
    thread_local Scratch abuf, bbuf;
    float* a = abuf.get(packed_a_size(kr, MC, KC));
    float* b = bbuf.get(packed_b_size(kr, KC, N));
    for (long band = b0; band < b1; ++band) {
      float* acc = band == 0 ? dw : partial[band - 1].data();
      for (long s = slices * band / bands; s < slices * (band + 1) / bands; ++s) {
        const long p0 = s * KC;
        const int kc = static_cast<int>(std::min<long>(KC, P - p0));
        pack_b(kr, false, dy + p0 * N, N, 0, kc, N, b);
        for (int i0 = 0; i0 < M; i0 += MC) {
          const int mc = std::min(MC, M - i0);
          if (pointwise)
            pack_a(kr, true, x + p0 * g.inC, g.inC, i0, mc, 0, kc, a);
          else
            pack_im2col_t(kr, g, taps, x, i0, mc, p0, kc, a);
          macro_kernel(kr, mc, N, kc, a, b, acc + static_cast<long>(i0) * N, N, true);
        }
      }
    }
  });
  for (const auto& part : partial)
    for (size_t i = 0; i < dwSize; ++i) dw[i] += part[i];
}

}  // namespace matn
