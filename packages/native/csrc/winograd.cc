#include "winograd.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "gemm.h"
#include "thread_pool.h"

// F(2x2, 3x3): a 4x4 input tile d (stride 2, so neighbouring tiles overlap by 2) gives the 2x2 output tile
//   Y = A^T [ sum_ci (G g G^T) ⊙ (B^T d B) ] A
// with g the 3x3 filter of one (ci, co) pair and
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],  A^T = [1 1 1 0; 0 1 -1 -1].
// The sum over ci for each of the 16 tile positions ξ is a GEMM: M_ξ[tiles, K] = V_ξ[tiles, C] · U_ξ[C, K].
// Tiles are processed in blocks, each block's V and M staying in cache; one block is one thread's work and its
// arithmetic never depends on the split, so results are the same bits for any thread count.

namespace matn {
namespace {

std::atomic<int> g_algorithm{static_cast<int>(ConvAlgorithm::Auto)};

constexpr int kPositions = 16;

/** U_ξ = (G g G^T)_ξ for every (ci, co): 16 matrices [C, K], row-major, one after the other. */
void transform_filter(int C, int K, const float* w, float* u) {
  const long ck = static_cast<long>(C) * K;
  // Each (ci, co) on its own: split over the thread pool (a serial pass here held back 2-thread scaling).
  constexpr long kGrain = 4096;
  parallel_for((ck + kGrain - 1) / kGrain, [&](long c0, long c1, int) {
  for (long i = c0 * kGrain; i < std::min(ck, c1 * kGrain); ++i) {
    float g[3][3];
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) g[a][b] = w[(a * 3 + b) * ck + i];
    float t[4][3];  // G g
    for (int b = 0; b < 3; ++b) {
      t[0][b] = g[0][b];
      t[1][b] = 0.5f * (g[0][b] + g[1][b] + g[2][b]);
      t[2][b] = 0.5f * (g[0][b] - g[1][b] + g[2][b]);
      t[3][b] = g[2][b];
    }
    for (int a = 0; a < 4; ++a) {  // (G g) G^T
      u[(a * 4 + 0) * ck + i] = t[a][0];
      u[(a * 4 + 1) * ck + i] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
      u[(a * 4 + 2) * ck + i] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
      u[(a * 4 + 3) * ck + i] = t[a][2];
    }
  }
  });
}

struct TileGeom {
  int batch, H, W, C, K, tilesH, tilesW;
  long tiles() const { return static_cast<long>(batch) * tilesH * tilesW; }
};

// The per-tile transforms are loops over channels with one load or store stream per tile position: compiled
// for AVX-512, AVX2 and baseline x86-64 (target_clones picks one at load time). They only add and subtract,
// so every version gives the same bits.

/** out[ξ * plane + c] = (B^T d B)_ξ of the 4x4 tile whose rows of channels start at d[0..15], c < cc. */
__attribute__((target_clones("avx512f", "avx2", "default"))) void input_tile(const float* const* d, float* out,
                                                                             long plane, int cc) {
  const float *__restrict d0 = d[0], *__restrict d1 = d[1], *__restrict d2 = d[2], *__restrict d3 = d[3];
  const float *__restrict d4 = d[4], *__restrict d5 = d[5], *__restrict d6 = d[6], *__restrict d7 = d[7];
  const float *__restrict d8 = d[8], *__restrict d9 = d[9], *__restrict d10 = d[10], *__restrict d11 = d[11];
  const float *__restrict d12 = d[12], *__restrict d13 = d[13], *__restrict d14 = d[14], *__restrict d15 = d[15];
  float* __restrict o = out;
#pragma GCC ivdep
  for (int c = 0; c < cc; ++c) {
    // r = B^T d: rows i of the tile combined, column by column j.
    const float r00 = d0[c] - d8[c], r01 = d1[c] - d9[c], r02 = d2[c] - d10[c], r03 = d3[c] - d11[c];
    const float r10 = d4[c] + d8[c], r11 = d5[c] + d9[c], r12 = d6[c] + d10[c], r13 = d7[c] + d11[c];
    const float r20 = d8[c] - d4[c], r21 = d9[c] - d5[c], r22 = d10[c] - d6[c], r23 = d11[c] - d7[c];
    const float r30 = d4[c] - d12[c], r31 = d5[c] - d13[c], r32 = d6[c] - d14[c], r33 = d7[c] - d15[c];
    // V = r B.
    o[0 * plane + c] = r00 - r02;
    o[1 * plane + c] = r01 + r02;
    o[2 * plane + c] = r02 - r01;
    o[3 * plane + c] = r01 - r03;
    o[4 * plane + c] = r10 - r12;
    o[5 * plane + c] = r11 + r12;
    o[6 * plane + c] = r12 - r11;
    o[7 * plane + c] = r11 - r13;
    o[8 * plane + c] = r20 - r22;
    o[9 * plane + c] = r21 + r22;
    o[10 * plane + c] = r22 - r21;
    o[11 * plane + c] = r21 - r23;
    o[12 * plane + c] = r30 - r32;
    o[13 * plane + c] = r31 + r32;
    o[14 * plane + c] = r32 - r31;
    o[15 * plane + c] = r31 - r33;
  }
}

/**
 * V_ξ[t, c] = (B^T d B)_ξ for tiles [t0, t0+tb) and channels [c0, c0+cc) of x (NHWC), into
 * v[ξ * plane + (t - t0) * cc + c - c0]. Taps outside the image read `zeros` (the padding).
 */
void transform_input(const TileGeom& g, const float* x, const float* zeros, long t0, int tb, int c0, int cc,
                     float* v, long plane) {
  const long perImage = static_cast<long>(g.tilesH) * g.tilesW;
  for (int t = 0; t < tb; ++t) {
    const long tile = t0 + t;
    const int n = static_cast<int>(tile / perImage);
    const int rem = static_cast<int>(tile - n * perImage);
    const int ih0 = 2 * (rem / g.tilesW) - 1, iw0 = 2 * (rem % g.tilesW) - 1;
    const float* d[16];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        const int ih = ih0 + i, iw = iw0 + j;
        d[i * 4 + j] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W
                           ? x + ((static_cast<long>(n) * g.H + ih) * g.W + iw) * g.C + c0
                           : zeros;
      }
    input_tile(d, v + static_cast<long>(t) * cc, plane, cc);
  }
}

/**
 * The 2x2 output tile A^T M A of m[ξ * plane + k], k < K, + bias, ReLU when `relu`, into the pixel rows
 * y00..y11 (a pixel outside the image is written to a scratch row instead: the tile is computed in full).
 */
__attribute__((target_clones("avx512f", "avx2", "default"))) void output_tile(const float* m, long plane, int K,
                                                                              const float* bias, bool relu,
                                                                              float* y00, float* y01, float* y10,
                                                                              float* y11) {
  float *__restrict t00 = y00, *__restrict t01 = y01, *__restrict t10 = y10, *__restrict t11 = y11;
  for (int k = 0; k < K; ++k) {
    const float m0 = m[k], m1 = m[plane + k], m2 = m[2 * plane + k], m3 = m[3 * plane + k];
    const float m4 = m[4 * plane + k], m5 = m[5 * plane + k], m6 = m[6 * plane + k], m7 = m[7 * plane + k];
    const float m8 = m[8 * plane + k], m9 = m[9 * plane + k], m10 = m[10 * plane + k], m11 = m[11 * plane + k];
    const float m12 = m[12 * plane + k], m13 = m[13 * plane + k], m14 = m[14 * plane + k];
    const float m15 = m[15 * plane + k];
    // s = A^T M (2 x 4), then o = s A (2 x 2).
    const float s00 = m0 + m4 + m8, s01 = m1 + m5 + m9, s02 = m2 + m6 + m10, s03 = m3 + m7 + m11;
    const float s10 = m4 - m8 - m12, s11 = m5 - m9 - m13, s12 = m6 - m10 - m14, s13 = m7 - m11 - m15;
    const float b = bias ? bias[k] : 0.f;
    float o00 = s00 + s01 + s02 + b, o01 = s01 - s02 - s03 + b;
    float o10 = s10 + s11 + s12 + b, o11 = s11 - s12 - s13 + b;
    if (relu) {
      o00 = o00 < 0.f ? 0.f : o00;
      o01 = o01 < 0.f ? 0.f : o01;
      o10 = o10 < 0.f ? 0.f : o10;
      o11 = o11 < 0.f ? 0.f : o11;
    }
    t00[k] = o00;
    t01[k] = o01;
    t10[k] = o10;
    t11[k] = o11;
  }
}

/** y (NHWC) for tiles [t0, t0+tb) from m[ξ * plane + (t - t0) * K + k]: A^T M A, + bias, activation. */
void transform_output(const TileGeom& g, const float* m, long t0, int tb, long plane, const float* bias,
                      Activation act, float* y) {
  const long perImage = static_cast<long>(g.tilesH) * g.tilesW;
  // Pixels of partial tiles past the image's last row or column go here (one row each, so no two alias).
  thread_local Scratch sinkBuf;
  float* sink = sinkBuf.get(static_cast<size_t>(3) * g.K);
  for (int t = 0; t < tb; ++t) {
    const long tile = t0 + t;
    const int n = static_cast<int>(tile / perImage);
    const int rem = static_cast<int>(tile - n * perImage);
    const int oh = 2 * (rem / g.tilesW), ow = 2 * (rem % g.tilesW);
    const bool right = ow + 1 < g.W, below = oh + 1 < g.H;
    float* y00 = y + ((static_cast<long>(n) * g.H + oh) * g.W + ow) * g.K;
    output_tile(m + static_cast<long>(t) * g.K, plane, g.K, bias, act == Activation::Relu, y00,
                right ? y00 + g.K : sink, below ? y00 + static_cast<long>(g.W) * g.K : sink + g.K,
                right && below ? y00 + static_cast<long>(g.W + 1) * g.K : sink + 2 * g.K);
  }
}

/** Tiles per block: M (16 x tiles x K floats) stays within ~1 MiB of cache, at least 16 and at most MC. */
int tiles_per_block(int K) { return std::max(16, std::min(MC, (1 << 18) / (kPositions * K) / 16 * 16)); }

/**
 * Blocks of tiles, each block's V and M in cache: one block is one thread's work, the 16 transformed filters
 * packed once and streamed once per block.
 */
void winograd_blocked(const TileGeom& g, const float* u, const float* x, const float* bias, Activation act,
                      float* y) {
  const Kernel& kr = active_kernel();
  const long ck = static_cast<long>(g.C) * g.K;
  std::vector<std::unique_ptr<PackedB>> packed;
  for (int xi = 0; xi < kPositions; ++xi)
    packed.emplace_back(new PackedB(kr, false, g.C, g.K, u + xi * ck, g.K));
  const std::vector<float> zeros(g.C, 0.f);
  const int tb = tiles_per_block(g.K);
  const long tiles = g.tiles();
  const long blocks = (tiles + tb - 1) / tb;
  parallel_for(blocks, [&](long b0, long b1, int) {
    thread_local Scratch vbuf, mbuf;
    float* v = vbuf.get(static_cast<size_t>(kPositions) * tb * std::min(g.C, KC));
    float* m = mbuf.get(static_cast<size_t>(kPositions) * tb * g.K);
    for (long blk = b0; blk < b1; ++blk) {
      const long t0 = blk * tb;
      const int n = static_cast<int>(std::min<long>(tb, tiles - t0));
      for (int c0 = 0; c0 < g.C; c0 += KC) {
        const int cc = std::min(KC, g.C - c0);
        transform_input(g, x, zeros.data(), t0, n, c0, cc, v, static_cast<long>(n) * cc);
        for (int xi = 0; xi < kPositions; ++xi)
          macro_kernel_rows(kr, n, g.K, cc, v + static_cast<long>(xi) * n * cc, cc, packed[xi]->slice(c0),
                            m + static_cast<long>(xi) * n * g.K, g.K, c0 > 0);
      }
      transform_output(g, m, t0, n, static_cast<long>(n) * g.K, bias, act, y);
    }
  });
}

/**
 * Few tiles (1024 at batch 64 on 8x8 images): the whole layer's V and M at once and each of the 16 products
 * one threaded GEMM, so the transformed filters are read once rather than once per block of tiles.
 */
void winograd_whole(const TileGeom& g, const float* u, const float* x, const float* bias, Activation act,
                    float* y) {
  const long tiles = g.tiles();
  const long vPlane = tiles * g.C, mPlane = tiles * g.K;
  thread_local Scratch vbuf, mbuf;
  float* v = vbuf.get(static_cast<size_t>(kPositions) * vPlane);
  float* m = mbuf.get(static_cast<size_t>(kPositions) * mPlane);
  const std::vector<float> zeros(g.C, 0.f);
  constexpr long kChunk = 16;
  const long chunks = (tiles + kChunk - 1) / kChunk;
  parallel_for(chunks, [&](long c0, long c1, int) {
    for (long c = c0; c < c1; ++c) {
      const int n = static_cast<int>(std::min(kChunk, tiles - c * kChunk));
      transform_input(g, x, zeros.data(), c * kChunk, n, 0, g.C, v + c * kChunk * g.C, vPlane);
    }
  });
  for (int xi = 0; xi < kPositions; ++xi)
    sgemm(false, false, static_cast<int>(tiles), g.K, g.C, v + xi * vPlane, g.C,
          u + static_cast<long>(xi) * g.C * g.K, g.K, m + xi * mPlane, g.K, false);
  parallel_for(chunks, [&](long c0, long c1, int) {
    for (long c = c0; c < c1; ++c) {
      const int n = static_cast<int>(std::min(kChunk, tiles - c * kChunk));
      transform_output(g, m + c * kChunk * g.K, c * kChunk, n, mPlane, bias, act, y);
    }
  });
}

/** y = conv3x3(x, w) with w HWIO [3, 3, C, K], "same" padding, stride 1. */
void winograd(const TileGeom& g, const float* x, const float* w, const float* bias, Activation act, float* y) {
  thread_local Scratch ubuf;  // every element written by transform_filter: no zeroing pass
  float* u = ubuf.get(static_cast<size_t>(kPositions) * g.C * g.K);
  transform_filter(g.C, g.K, w, u);
  // Whole layer when the filters are large (re-reading them per block costs) and V and M together fit in
  // 32 MiB; otherwise blocks.
  if (g.C + g.K >= 256 && g.tiles() * (g.C + g.K) <= (1L << 19))
    winograd_whole(g, u, x, bias, act, y);
  else
    winograd_blocked(g, u, x, bias, act, y);
}

}  // namespace

ConvAlgorithm conv_algorithm() { return static_cast<ConvAlgorithm>(g_algorithm.load()); }
void set_conv_algorithm(ConvAlgorithm a) { g_algorithm.store(static_cast<int>(a)); }

bool winograd_applies(const ConvGeom& g) {
  return conv_algorithm() == ConvAlgorithm::Auto && g.fH == 3 && g.fW == 3 && g.strideH == 1 && g.strideW == 1 &&
         g.dilH == 1 && g.dilW == 1 && g.padTop == 1 && g.padLeft == 1 && g.outH == g.inH && g.outW == g.inW &&
         g.inC >= 64 && g.outC >= 64 && g.inH >= 8 && g.inW >= 8 && g.batch > 0;
}

void winograd_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, Activation act, float* y) {
  const TileGeom t{g.batch, g.inH, g.inW, g.inC, g.outC, (g.inH + 1) / 2, (g.inW + 1) / 2};
  winograd(t, x, w, bias, act, y);
}

void winograd_backprop_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  // dx[ih, iw, ci] = sum dy[ih + 1 - kh, iw + 1 - kw, co] w[kh, kw, ci, co]: a "same" convolution of dy with
  // the filter turned by 180 degrees and its channel axes swapped, wf[a, b, co, ci] = w[2 - a, 2 - b, ci, co].
  const int C = g.inC, K = g.outC;
  thread_local Scratch wfbuf;  // every element written below
  float* wf = wfbuf.get(static_cast<size_t>(9) * C * K);
  parallel_for(9L * K, [&](long r0, long r1, int) {
    for (long r = r0; r < r1; ++r) {  // row (tap ab, co) of wf, read from column co of w's tap (2-a, 2-b)
      const long ab = r / K, co = r % K;
      const float* src = w + (8 - ab) * C * K + co;
      float* dst = wf + r * C;
      for (int ci = 0; ci < C; ++ci) dst[ci] = src[static_cast<long>(ci) * K];
    }
  });
  const TileGeom t{g.batch, g.inH, g.inW, K, C, (g.inH + 1) / 2, (g.inW + 1) / 2};
  winograd(t, dy, wf, nullptr, Activation::Linear, dx);
}

}  // namespace matn
