// Single-precision matrix multiply, row-major, BLIS-style: slices of B and blocks of A are packed into
// NR-wide / MR-tall panels that a register-blocked micro-kernel (AVX-512, AVX2+FMA or portable C++) streams
// through. The ISA is chosen at run time, so one binary runs on any x86-64.
#pragma once
#include <cstddef>

namespace matn {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

Isa detected_isa();
Isa active_isa();
/** Forces a lower ISA (for tests and comparisons); clamped to what the CPU supports. */
void set_isa(Isa isa);
const char* isa_name(Isa isa);

/** Depth of a packed slice (k), and rows of A packed at once (a multiple of every MR). */
constexpr int KC = 256;
constexpr int MC = 240;

/**
 * C[0:mr, 0:nr] (+)= A (MR x kc) * b_panel (kc x NR, k-major); only mr x nr of the MR x NR tile is stored.
 * A(r, k) = a[r * rs + k * ks]: a packed panel (rs 1, ks MR) or MR rows of a row-major matrix (rs lda, ks 1);
 * all MR rows are read, so a partial row block must be packed (zero-padded) first.
 */
using Ukernel = void (*)(int kc, const float* a, long rs, long ks, const float* b, float* c, long ldc,
                         bool accumulate, int mr, int nr);

struct Kernel {
  int mr, nr;
  Ukernel run;
};

/** The micro-kernel of the active ISA. Read it once per operation so packing and kernel agree. */
const Kernel& active_kernel();

/** A 64-byte aligned, grow-only scratch buffer; use as `thread_local Scratch s;`. */
class Scratch {
 public:
  ~Scratch();
  float* get(size_t n);

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

/** Packs op(A)[i0:i0+mc, k0:k0+kc] into MR-row panels (zero-padded), k-major inside each panel. */
void pack_a(const Kernel& kr, bool transA, const float* A, long lda, int i0, int mc, int k0, int kc, float* dst);

/** Packs op(B)[k0:k0+kc, 0:N] into NR-column panels (zero-padded); panel jp starts at dst + jp*kc*NR. */
void pack_b(const Kernel& kr, bool transB, const float* B, long ldb, int k0, int kc, int N, float* dst);

/** Floats pack_b writes for kc x N. */
inline size_t packed_b_size(const Kernel& kr, int kc, int N) {
  return static_cast<size_t>(kc) * ((N + kr.nr - 1) / kr.nr) * kr.nr;
}
inline size_t packed_a_size(const Kernel& kr, int mc, int kc) {
  return static_cast<size_t>(kc) * ((mc + kr.mr - 1) / kr.mr) * kr.mr;
}

/** C[mc, N] (+)= packed A block (mc x kc) * packed B slice (kc x N). */
void macro_kernel(const Kernel& kr, int mc, int N, int kc, const float* a, const float* b, float* C, long ldc,
                  bool accumulate);

/**
 * C[mc, N] (+)= A (mc x kc, row-major with stride lda, read in place) * packed B slice (kc x N). Only a
 * last partial panel of fewer than MR rows is copied (zero-padded), so the kernel never reads past A.
 */
void macro_kernel_rows(const Kernel& kr, int mc, int N, int kc, const float* A, long lda, const float* b, float* C,
                       long ldc, bool accumulate);

/** op(B)[K, N] packed once (all KC slices), for reuse across many row blocks of A, e.g. a conv filter. */
class PackedB {
 public:
  PackedB(const Kernel& kr, bool transB, int K, int N, const float* B, long ldb);
  ~PackedB();
  PackedB(const PackedB&) = delete;
  PackedB& operator=(const PackedB&) = delete;
  int K() const { return k_; }
  int N() const { return n_; }
  /** The packed slice that starts at depth k0 (a multiple of KC). */
  const float* slice(int k0) const { return data_ + packed_b_size(kr_, k0, n_); }
  /** Inside slice k0, the panels from column j0 (a multiple of NR) on. */
  const float* at(int k0, int j0) const {
    const int kc = k_ - k0 < KC ? k_ - k0 : KC;
    return slice(k0) + static_cast<size_t>(j0) * kc;
  }

 private:
  const Kernel& kr_;
  int k_, n_;
  float* data_;
};

/** C[M, N] = op(A) * op(B) (+ C), on the calling thread only. op(A) = A^T when transA (A stored [K, M]). */
void sgemm_serial(bool transA, bool transB, int M, int N, int K, const float* A, long lda, const float* B,
                  long ldb, float* C, long ldc, bool accumulate);

/** Same, split over the thread pool (by rows of C, or by columns when there are few rows). */
void sgemm(bool transA, bool transB, int M, int N, int K, const float* A, long lda, const float* B, long ldb,
           float* C, long ldc, bool accumulate);

}  // namespace matn
