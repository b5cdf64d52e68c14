#include "pool.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "gemm.h"
#include "thread_pool.h"

namespace matn {
namespace {

/** The valid window rows/cols for one output position. */
struct Window {
  int ih0, iw0, khBegin, khEnd, kwBegin, kwEnd;
};

inline int first_tap(int corner, int dil) {
  int k = 0;
  while (corner + k * dil < 0) ++k;
  return k;
}

inline int end_tap(int corner, int dil, int taps, int size) {
  int k = taps;
  while (k > 0 && corner + (k - 1) * dil >= size) --k;
  return k;
}

inline Window window(const PoolGeom& g, int oh, int ow) {
  Window w;
  w.ih0 = oh * g.strideH - g.padTop;
  w.iw0 = ow * g.strideW - g.padLeft;
  w.khBegin = first_tap(w.ih0, g.dilH);
  w.khEnd = end_tap(w.ih0, g.dilH, g.fH, g.inH);
  w.kwBegin = first_tap(w.iw0, g.dilW);
  w.kwEnd = end_tap(w.iw0, g.dilW, g.fW, g.inW);
  return w;
}

inline long image_size(const PoolGeom& g) { return static_cast<long>(g.inH) * g.inW * g.channels; }

}  // namespace

void max_pool(const PoolGeom& g, const float* x, float* y) {
  const int C = g.channels;
  parallel_for(static_cast<long>(g.batch) * g.outH, [&](long r0, long r1, int) {
    for (long row = r0; row < r1; ++row) {
      const int n = static_cast<int>(row / g.outH), oh = static_cast<int>(row % g.outH);
      const float* xn = x + n * image_size(g);
      for (int ow = 0; ow < g.outW; ++ow) {
        float* out = y + (row * g.outW + ow) * C;
        std::fill(out, out + C, -std::numeric_limits<float>::infinity());
        const Window w = window(g, oh, ow);
        for (int kh = w.khBegin; kh < w.khEnd; ++kh)
          for (int kw = w.kwBegin; kw < w.kwEnd; ++kw) {
            const float* s = xn + (static_cast<long>(w.ih0 + kh * g.dilH) * g.inW + w.iw0 + kw * g.dilW) * C;
            for (int c = 0; c < C; ++c) out[c] = s[c] > out[c] ? s[c] : out[c];
          }
      }
    }
  });
}

namespace {

/**
 * Windows that tile the input without overlap (stride >= window, no dilation), e.g. 2x2 stride 2: each dx
 * pixel has at most one window, so it is written once (dy at the argmax, else 0) with no read-modify-write.
 */
// 4-lane vectors (GCC vector extensions: SSE2 on any x86-64) for the compare-and-select scan below; GCC does
// not vectorise that scan from scalar code.
typedef float f4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));

inline f4 load4(const float* p) {
  f4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store4(float* p, f4 v) { std::memcpy(p, &v, sizeof v); }

/**
 * One window, channels [c0, c0 + 4): the first tap holding the maximum gets dy, every other tap 0 (no tap
 * when all are NaN or -inf: the tfjs cpu rule).
 */
inline void route_window4(const float* const* taps, float* const* outs, int count, const float* d, int c0) {
  const float inf = std::numeric_limits<float>::infinity();
  f4 best = {-inf, -inf, -inf, -inf};
  i4 arg = {-1, -1, -1, -1};
  for (int32_t k = 0; k < count; ++k) {
    const f4 s = load4(taps[k] + c0);
    const i4 gt = s > best;  // strict: the first maximum wins ties
    best = gt ? s : best;
    arg = gt ? i4{k, k, k, k} : arg;
  }
  const f4 dv = load4(d + c0);
  const f4 zero = {0.f, 0.f, 0.f, 0.f};
  for (int32_t k = 0; k < count; ++k) store4(outs[k] + c0, arg == i4{k, k, k, k} ? dv : zero);
}

inline void route_window1(const float* const* taps, float* const* outs, int count, const float* d, int c) {
  float best = -std::numeric_limits<float>::infinity();
  int arg = -1;
  for (int k = 0; k < count; ++k)
    if (taps[k][c] > best) {
      best = taps[k][c];
      arg = k;
    }
  for (int k = 0; k < count; ++k) outs[k][c] = k == arg ? d[c] : 0.f;
}

void max_pool_grad_tiled(const PoolGeom& g, const float* dy, const float* x, float* dx, long n0, long n1) {
  const int C = g.channels;
  // When the windows cover every input pixel exactly once (e.g. 2x2 stride 2 on even sizes), every dx value is
  // written below; otherwise the uncovered pixels must be zero.
  const bool covers = g.padTop == 0 && g.padLeft == 0 && g.strideH == g.fH && g.strideW == g.fW &&
                      g.outH * g.fH == g.inH && g.outW * g.fW == g.inW;
  if (!covers) std::memset(dx + n0 * image_size(g), 0, sizeof(float) * (n1 - n0) * image_size(g));
  std::vector<const float*> taps(static_cast<size_t>(g.fH) * g.fW);
  std::vector<float*> outs(taps.size());
  for (long n = n0; n < n1; ++n) {
    const float* xn = x + n * image_size(g);
    float* dxn = dx + n * image_size(g);
    for (int oh = 0; oh < g.outH; ++oh)
      for (int ow = 0; ow < g.outW; ++ow) {
        const Window w = window(g, oh, ow);
        int count = 0;
        for (int kh = w.khBegin; kh < w.khEnd; ++kh)
          for (int kw = w.kwBegin; kw < w.kwEnd; ++kw, ++count) {
            const long off = (static_cast<long>(w.ih0 + kh) * g.inW + w.iw0 + kw) * C;
            taps[count] = xn + off;
            outs[count] = dxn + off;
          }
        const float* d = dy + ((n * g.outH + oh) * static_cast<long>(g.outW) + ow) * C;
        int c0 = 0;
        for (; c0 + 4 <= C; c0 += 4) route_window4(taps.data(), outs.data(), count, d, c0);
        for (; c0 < C; ++c0) route_window1(taps.data(), outs.data(), count, d, c0);
      }
  }
}

}  // namespace

void max_pool_grad(const PoolGeom& g, const float* dy, const float* x, float* dx) {
  const int C = g.channels;
  const bool tiled = g.dilH == 1 && g.dilW == 1 && g.strideH >= g.fH && g.strideW >= g.fW;
  // Threads own whole images: overlapping windows scatter into the same dx pixels.
  parallel_for(g.batch, [&](long n0, long n1, int) {
    if (tiled) return max_pool_grad_tiled(g, dy, x, dx, n0, n1);
    std::memset(dx + n0 * image_size(g), 0, sizeof(float) * (n1 - n0) * image_size(g));
    thread_local Scratch bestBuf;
    thread_local std::vector<long> whereBuf;
    float* best = bestBuf.get(C);
    whereBuf.resize(C);
    long* where = whereBuf.data();
    for (long n = n0; n < n1; ++n) {
      const float* xn = x + n * image_size(g);
      float* dxn = dx + n * image_size(g);
      for (int oh = 0; oh < g.outH; ++oh)
        for (int ow = 0; ow < g.outW; ++ow) {
          const Window w = window(g, oh, ow);
          std::fill(best, best + C, -std::numeric_limits<float>::infinity());
          std::fill(where, where + C, -1L);
          for (int kh = w.khBegin; kh < w.khEnd; ++kh)
            for (int kw = w.kwBegin; kw < w.kwEnd; ++kw) {
              const long off = (static_cast<long>(w.ih0 + kh * g.dilH) * g.inW + w.iw0 + kw * g.dilW) * C;
              const float* s = xn + off;
              for (int c = 0; c < C; ++c) {
                const bool gt = s[c] > best[c];  // strict: the first maximum wins ties
                best[c] = gt ? s[c] : best[c];
                where[c] = gt ? off : where[c];
              }
            }
          const float* d = dy + ((n * g.outH + oh) * static_cast<long>(g.outW) + ow) * C;
          for (int c = 0; c < C; ++c)
            if (where[c] >= 0) dxn[where[c] + c] += d[c];
        }
    }
  });
}

void avg_pool(const PoolGeom& g, const float* x, float* y) {
  const int C = g.channels;
  parallel_for(static_cast<long>(g.batch) * g.outH, [&](long r0, long r1, int) {
    for (long row = r0; row < r1; ++row) {
      const int n = static_cast<int>(row / g.outH), oh = static_cast<int>(row % g.outH);
      const float* xn = x + n * image_size(g);
      for (int ow = 0; ow < g.outW; ++ow) {
        float* out = y + (row * g.outW + ow) * C;
        std::fill(out, out + C, 0.f);
        const Window w = window(g, oh, ow);
        for (int kh = w.khBegin; kh < w.khEnd; ++kh)
          for (int kw = w.kwBegin; kw < w.kwEnd; ++kw) {
            const float* s = xn + (static_cast<long>(w.ih0 + kh * g.dilH) * g.inW + w.iw0 + kw * g.dilW) * C;
            for (int c = 0; c < C; ++c) out[c] += s[c];
          }
        const float inv = 1.f / static_cast<float>((w.khEnd - w.khBegin) * (w.kwEnd - w.kwBegin));
        for (int c = 0; c < C; ++c) out[c] *= inv;
      }
    }
  });
}

void avg_pool_grad(const PoolGeom& g, const float* dy, float* dx) {
  const int C = g.channels;
  const float inv = 1.f / static_cast<float>(g.fH * g.fW);
  parallel_for(g.batch, [&](long n0, long n1, int) {
    std::memset(dx + n0 * image_size(g), 0, sizeof(float) * (n1 - n0) * image_size(g));
    for (long n = n0; n < n1; ++n) {
      float* dxn = dx + n * image_size(g);
      for (int oh = 0; oh < g.outH; ++oh)
        for (int ow = 0; ow < g.outW; ++ow) {
          const Window w = window(g, oh, ow);
          const float* d = dy + ((n * g.outH + oh) * static_cast<long>(g.outW) + ow) * C;
          for (int kh = w.khBegin; kh < w.khEnd; ++kh)
            for (int kw = w.kwBegin; kw < w.kwEnd; ++kw) {
              float* t = dxn + (static_cast<long>(w.ih0 + kh * g.dilH) * g.inW + w.iw0 + kw * g.dilW) * C;
              for (int c = 0; c < C; ++c) t[c] += d[c] * inv;
            }
        }
    }
  });
}

}  // namespace matn
