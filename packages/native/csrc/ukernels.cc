// Register-blocked micro-kernels: C tile (MR x NR) += sum over k of a(0:MR, k) (outer) b[k, 0:NR].
// A element (r, k) is read at a[r * rs + k * ks]: rs = 1, ks = MR for a packed panel, rs = lda, ks = 1 for
// rows of a row-major matrix read in place (no packing: im2col rows, dy, dense activations).
// Each is compiled for its own ISA with a target attribute and picked at run time (see gemm.cc), so the
// library needs no -march flag. Accumulators live in registers for the whole k loop:
//   AVX-512: 12 x 32 tile = 24 zmm accumulators, 2 B loads + 12 broadcasts per 24 FMAs.
//   AVX2:     6 x 16 tile = 12 ymm accumulators, 2 B loads +  6 broadcasts per 12 FMAs.
#include <immintrin.h>

#include <cstring>

#include "gemm.h"

namespace matn {
namespace {

/** Copies (or adds) the valid mr x nr part of a dense MR x NR tile into C. */
template <int MR, int NR>
inline void store_partial(const float* tile, float* c, long ldc, bool accumulate, int mr, int nr) {
  for (int r = 0; r < mr; ++r) {
    float* cr = c + r * ldc;
    const float* tr = tile + r * NR;
    if (accumulate) {
      for (int j = 0; j < nr; ++j) cr[j] += tr[j];
    } else {
      for (int j = 0; j < nr; ++j) cr[j] = tr[j];
    }
  }
}

constexpr int kScalarMr = 4, kScalarNr = 8;

void ukernel_scalar(int kc, const float* a, long rs, long ks, const float* b, float* c, long ldc, bool accumulate,
                    int mr, int nr) {
  float acc[kScalarMr * kScalarNr] = {};
  for (int k = 0; k < kc; ++k) {
    for (int r = 0; r < kScalarMr; ++r) {
      const float av = a[r * rs];
      for (int j = 0; j < kScalarNr; ++j) acc[r * kScalarNr + j] += av * b[j];
    }
    a += ks;
    b += kScalarNr;
  }
  store_partial<kScalarMr, kScalarNr>(acc, c, ldc, accumulate, mr, nr);
}

constexpr int kAvx2Mr = 6, kAvx2Nr = 16;

__attribute__((target("avx2,fma"))) void ukernel_avx2(int kc, const float* a, long rs, long ks, const float* b,
                                                       float* c, long ldc, bool accumulate, int mr, int nr) {
  __m256 c0[kAvx2Mr], c1[kAvx2Mr];
#pragma GCC unroll 6
  for (int r = 0; r < kAvx2Mr; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
  // Rows r = 0..5 at a0 + {0, 1, 2} * rs and a3 + {0, 1, 2} * rs: base + scaled index addressing.
  const float* a0 = a;
  const float* a3 = a + 3 * rs;
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    const float* rows[kAvx2Mr] = {a0, a0 + rs, a0 + 2 * rs, a3, a3 + rs, a3 + 2 * rs};
#pragma GCC unroll 6
    for (int r = 0; r < kAvx2Mr; ++r) {
      const __m256 av = _mm256_broadcast_ss(rows[r]);
      c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
    }
    a0 += ks;
    a3 += ks;
    b += kAvx2Nr;
  }
  if (mr == kAvx2Mr && nr == kAvx2Nr) {
#pragma GCC unroll 6
    for (int r = 0; r < kAvx2Mr; ++r) {
      float* cr = c + r * ldc;
      if (accumulate) {
        c0[r] = _mm256_add_ps(c0[r], _mm256_loadu_ps(cr));
        c1[r] = _mm256_add_ps(c1[r], _mm256_loadu_ps(cr + 8));
      }
      _mm256_storeu_ps(cr, c0[r]);
      _mm256_storeu_ps(cr + 8, c1[r]);
    }
    return;
  }
  alignas(32) float tile[kAvx2Mr * kAvx2Nr];
#pragma GCC unroll 6
  for (int r = 0; r < kAvx2Mr; ++r) {
    _mm256_store_ps(tile + r * kAvx2Nr, c0[r]);
    _mm256_store_ps(tile + r * kAvx2Nr + 8, c1[r]);
  }
  store_partial<kAvx2Mr, kAvx2Nr>(tile, c, ldc, accumulate, mr, nr);
}

constexpr int kAvx512Mr = 12, kAvx512Nr = 32;

__attribute__((target("avx512f,fma"))) void ukernel_avx512(int kc, const float* a, long rs, long ks,
                                                            const float* b, float* c, long ldc, bool accumulate,
                                                            int mr, int nr) {
  __m512 c0[kAvx512Mr], c1[kAvx512Mr];
#pragma GCC unroll 12
  for (int r = 0; r < kAvx512Mr; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  // Rows r = 0..11 at a{0,3,6,9} + {0, 1, 2} * rs: four bases and one scaled index, no spills.
  const float* a0 = a;
  const float* a3 = a + 3 * rs;
  const float* a6 = a + 6 * rs;
  const float* a9 = a + 9 * rs;
  for (int k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    const float* rows[kAvx512Mr] = {a0, a0 + rs, a0 + 2 * rs, a3, a3 + rs, a3 + 2 * rs,
                                    a6, a6 + rs, a6 + 2 * rs, a9, a9 + rs, a9 + 2 * rs};
#pragma GCC unroll 12
    for (int r = 0; r < kAvx512Mr; ++r) {
      const __m512 av = _mm512_set1_ps(*rows[r]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
    a0 += ks;
    a3 += ks;
    a6 += ks;
    a9 += ks;
    b += kAvx512Nr;
  }
  // Masked stores handle a partial width; rows past mr are skipped.
  const __mmask16 m0 = nr >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr > 16 ? static_cast<__mmask16>((1u << (nr - 16)) - 1) : 0;
#pragma GCC unroll 12
  for (int r = 0; r < kAvx512Mr; ++r) {
    if (r >= mr) break;
    float* cr = c + r * ldc;
    __m512 v0 = c0[r], v1 = c1[r];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    _mm512_mask_storeu_ps(cr, m0, v0);
    _mm512_mask_storeu_ps(cr + 16, m1, v1);
  }
}

}  // namespace

const Kernel& kernel_for(Isa isa) {
  static const Kernel scalar{kScalarMr, kScalarNr, ukernel_scalar};
  static const Kernel avx2{kAvx2Mr, kAvx2Nr, ukernel_avx2};
  static const Kernel avx512{kAvx512Mr, kAvx512Nr, ukernel_avx512};
  switch (isa) {
    case Isa::Avx512:
      return avx512;
    case Isa::Avx2:
      return avx2;
    default:
      return scalar;
  }
}

}  // namespace matn
