#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "thread_pool.h"

namespace matn {

const Kernel& kernel_for(Isa isa);  // ukernels.cc

namespace {

Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Scalar;
}

Isa isa_from_env(Isa best) {
  const char* s = std::getenv("MAT_NATIVE_SIMD");
  if (!s) return best;
  Isa want = std::strcmp(s, "avx512") == 0 ? Isa::Avx512 : std::strcmp(s, "avx2") == 0 ? Isa::Avx2 : Isa::Scalar;
  return std::min(want, best);
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(isa_from_env(detected_isa()))};
  return slot;
}

}  // namespace

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

Isa active_isa() { return static_cast<Isa>(active_slot().load()); }

void set_isa(Isa isa) { active_slot().store(static_cast<int>(std::min(isa, detected_isa()))); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

const Kernel& active_kernel() { return kernel_for(active_isa()); }

Scratch::~Scratch() { std::free(p_); }

float* Scratch::get(size_t n) {
  if (n > n_) {
    std::free(p_);
    n_ = std::max(n, n_ * 3 / 2);
    p_ = static_cast<float*>(std::aligned_alloc(64, ((n_ * sizeof(float) + 63) / 64) * 64));
    if (!p_) {
      n_ = 0;
      throw std::bad_alloc();
    }
  }
  return p_;
}

void pack_a(const Kernel& kr, bool transA, const float* A, long lda, int i0, int mc, int k0, int kc, float* dst) {
  const int MR = kr.mr;
  for (int ip = 0; ip < mc; ip += MR, dst += static_cast<long>(kc) * MR) {
    const int rows = std::min(MR, mc - ip);
    if (transA) {
      // op(A)[i, k] = A[k, i]: each k contributes MR consecutive floats.
      for (int k = 0; k < kc; ++k) {
        const float* src = A + static_cast<long>(k0 + k) * lda + i0 + ip;
        float* d = dst + static_cast<long>(k) * MR;
        int r = 0;
        for (; r < rows; ++r) d[r] = src[r];
        for (; r < MR; ++r) d[r] = 0.f;
      }
    } else {
      for (int r = 0; r < rows; ++r) {
        const float* src = A + static_cast<long>(i0 + ip + r) * lda + k0;
        for (int k = 0; k < kc; ++k) dst[static_cast<long>(k) * MR + r] = src[k];
      }
      for (int r = rows; r < MR; ++r)
        for (int k = 0; k < kc; ++k) dst[static_cast<long>(k) * MR + r] = 0.f;
    }
  }
}

void pack_b(const Kernel& kr, bool transB, const float* B, long ldb, int k0, int kc, int N, float* dst) {
  const int NR = kr.nr;
  for (int jp = 0; jp < N; jp += NR, dst += static_cast<long>(kc) * NR) {
    const int cols = std::min(NR, N - jp);
    if (transB) {
      // op(B)[k, j] = B[j, k]: read along k, write with stride NR.
      for (int j = 0; j < cols; ++j) {
        const float* src = B + static_cast<long>(jp + j) * ldb + k0;
        for (int k = 0; k < kc; ++k) dst[static_cast<long>(k) * NR + j] = src[k];
      }
      for (int j = cols; j < NR; ++j)
        for (int k = 0; k < kc; ++k) dst[static_cast<long>(k) * NR + j] = 0.f;
    } else {
      for (int k = 0; k < kc; ++k) {
        const float* src = B + static_cast<long>(k0 + k) * ldb + jp;
        float* d = dst + static_cast<long>(k) * NR;
        int j = 0;
        for (; j < cols; ++j) d[j] = src[j];
        for (; j < NR; ++j) d[j] = 0.f;
      }
    }
  }
}

void macro_kernel(const Kernel& kr, int mc, int N, int kc, const float* a, const float* b, float* C, long ldc,
                  bool accumulate) {
  const int MR = kr.mr, NR = kr.nr;
  // The B panel (kc x NR) stays in L1 while the A panels of the block stream past it from L2.
  for (int jp = 0; jp < N; jp += NR) {
    const float* bp = b + static_cast<long>(jp / NR) * kc * NR;
    const int nr = std::min(NR, N - jp);
    for (int ip = 0; ip < mc; ip += MR) {
      kr.run(kc, a + static_cast<long>(ip / MR) * kc * MR, 1, MR, bp, C + ip * ldc + jp, ldc, accumulate,
             std::min(MR, mc - ip), nr);
    }
  }
}

void macro_kernel_rows(const Kernel& kr, int mc, int N, int kc, const float* A, long lda, const float* b, float* C,
                       long ldc, bool accumulate) {
  const int MR = kr.mr, NR = kr.nr;
  const int full = mc / MR * MR;
  float* tail = nullptr;
  if (full < mc) {
    thread_local Scratch tailBuf;
    tail = tailBuf.get(static_cast<size_t>(MR) * kc);
    pack_a(kr, false, A, lda, full, mc - full, 0, kc, tail);
  }
  for (int jp = 0; jp < N; jp += NR) {
    const float* bp = b + static_cast<long>(jp / NR) * kc * NR;
    const int nr = std::min(NR, N - jp);
    for (int ip = 0; ip < full; ip += MR)
      kr.run(kc, A + ip * lda, lda, 1, bp, C + ip * ldc + jp, ldc, accumulate, MR, nr);
    if (tail) kr.run(kc, tail, 1, MR, bp, C + full * ldc + jp, ldc, accumulate, mc - full, nr);
  }
}

PackedB::PackedB(const Kernel& kr, bool transB, int K, int N, const float* B, long ldb) : kr_(kr), k_(K), n_(N) {
  const size_t n = packed_b_size(kr, K, N);
  data_ = static_cast<float*>(std::aligned_alloc(64, ((std::max<size_t>(n, 1) * sizeof(float) + 63) / 64) * 64));
  if (!data_) throw std::bad_alloc();
  for (int k0 = 0; k0 < K; k0 += KC) pack_b(kr, transB, B, ldb, k0, std::min(KC, K - k0), N, data_ + packed_b_size(kr, k0, N));
}

PackedB::~PackedB() { std::free(data_); }

namespace {

void zero_or_keep(int M, int N, float* C, long ldc, bool accumulate) {
  if (accumulate) return;
  for (int i = 0; i < M; ++i) std::memset(C + i * ldc, 0, sizeof(float) * N);
}

/** Rows [r0, r1) of C with B already packed; A is read in place unless transposed. */
void gemm_rows(const Kernel& kr, bool transA, int r0, int r1, int K, const float* A, long lda, const PackedB& pb,
               float* C, long ldc, bool accumulate) {
  thread_local Scratch abuf;
  float* a = transA ? abuf.get(packed_a_size(kr, MC, KC)) : nullptr;
  for (int i0 = r0; i0 < r1; i0 += MC) {
    const int mc = std::min(MC, r1 - i0);
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      const bool acc = accumulate || k0 > 0;
      if (transA) {
        pack_a(kr, true, A, lda, i0, mc, k0, kc, a);
        macro_kernel(kr, mc, pb.N(), kc, a, pb.slice(k0), C + i0 * ldc, ldc, acc);
      } else {
        macro_kernel_rows(kr, mc, pb.N(), kc, A + i0 * lda + k0, lda, pb.slice(k0), C + i0 * ldc, ldc, acc);
      }
    }
  }
}

}  // namespace

void sgemm_serial(bool transA, bool transB, int M, int N, int K, const float* A, long lda, const float* B,
                  long ldb, float* C, long ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return zero_or_keep(M, N, C, ldc, accumulate);
  const Kernel& kr = active_kernel();
  PackedB pb(kr, transB, K, N, B, ldb);
  gemm_rows(kr, transA, 0, M, K, A, lda, pb, C, ldc, accumulate);
}

void sgemm(bool transA, bool transB, int M, int N, int K, const float* A, long lda, const float* B, long ldb,
           float* C, long ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return zero_or_keep(M, N, C, ldc, accumulate);
  const Kernel& kr = active_kernel();
  const int threads = num_threads();
  const int rowBlocks = (M + kr.mr - 1) / kr.mr;
  const int colBlocks = (N + kr.nr - 1) / kr.nr;
  if (threads == 1 || (rowBlocks < 2 && colBlocks < 2)) {
    return sgemm_serial(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
  }
  if (rowBlocks >= threads * 2 || rowBlocks >= colBlocks) {
    // Pack B once, give each thread a band of MR-aligned rows.
    PackedB pb(kr, transB, K, N, B, ldb);
    parallel_for(rowBlocks, [&](long b0, long b1, int) {
      gemm_rows(kr, transA, static_cast<int>(b0) * kr.mr, std::min(M, static_cast<int>(b1) * kr.mr), K, A, lda, pb,
                C, ldc, accumulate);
    });
  } else {
    // Few rows (e.g. batch-1 dense): split the columns instead.
    parallel_for(colBlocks, [&](long b0, long b1, int) {
      const int j0 = static_cast<int>(b0) * kr.nr, j1 = std::min(N, static_cast<int>(b1) * kr.nr);
      const float* Bj = transB ? B + static_cast<long>(j0) * ldb : B + j0;
      sgemm_serial(transA, transB, M, j1 - j0, K, A, lda, Bj, ldb, C + j0, ldc, accumulate);
    });
  }
}

}  // namespace matn
