// A register-blocked GEMM, c += alpha · op(a) · op(b), for AVX2 + FMA and
// AVX-512, chosen at run time (core/isa.hpp), so the default build has it.
//
// Eigen's general product reaches about 70% of a core's FMA peak on the
// products of a training step (3000 × 128 × 128, and 128 × 128 × 3000 for the
// weight gradient) when it is compiled for AVX-512, and a quarter of that in
// the portable (SSE2) build; this kernel, the classic layout of GotoBLAS and
// BLIS, reaches about 90% on either:
//   for each kc-deep slice of k:  pack op(b)[slice, :] into panels of NR columns
//     for each MC-row block:      pack op(a)[block, slice] into panels of MR rows
//       for each NR panel, each MR panel: the micro-kernel, an MR × NR tile of
//       c held in registers, c_tile += Σ_p a_panel[:, p] · b_panel[p, :]
// MR is two vectors' worth of rows and NR columns of broadcasts, so each step p
// issues 2·NR fused multiply-adds for two vector loads: 24 accumulators of the
// 32 AVX-512 registers (NR = 12), or 12 of AVX2's 16 (NR = 6). The packed
// panels are zero-padded, so partial tiles run the same loop and only their
// store is masked.
//
// Each c element is the sum over p of its own products in ascending p, the
// same whichever tile or row chunk it falls in: a row's result does not depend
// on how the batch is split (on a given path; the paths differ in rounding,
// since FMA rounds once). Packing buffers are per thread and only grow, so
// warm calls allocate nothing.
//
// The body (kernels/gemm_kernel_impl.hpp) is compiled once per instruction set
// under `#pragma GCC target` (GCC) or `#pragma clang attribute` (Clang), each
// copy in its own namespace, so neither copy's instructions leak into code the
// CPU may not run.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "eigenflow/core/isa.hpp"
#include "eigenflow/core/types.hpp"

#ifdef EIGENFLOW_DISPATCH
#include <immintrin.h>
#endif
#if __has_include(<unistd.h>)
#include <unistd.h>  // sysconf: the L2 size
#endif

namespace eigenflow::detail::gemm_kernel {

template <class S>
constexpr bool kernel_available = std::is_same_v<S, float> || std::is_same_v<S, double>;

/// What the kernel does with a finished slice of c's tile.
template <class S>
struct Epilogue {
  bool overwrite = false;   // c = alpha · op(a) · op(b): c's old content is not read
  const S* bias = nullptr;  // if set, c = bias[j] + alpha · op(a) · op(b), also without reading c
  bool relu = false;        // then c = max(c, 0), with NaN kept as NaN
};

/// Column-major storage read as op(x): x itself, or its transpose.
template <class S>
struct Operand {
  const S* data;
  Index stride;  // leading dimension of the stored matrix
  bool transposed;
};

/// This core's L2 cache in bytes, from the C library where it says (glibc's sysconf);
/// 256 KB, the smallest of the x86 cores with AVX2, where it does not.
inline long l2_bytes() {
  static const long bytes = [] {
#if defined(_SC_LEVEL2_CACHE_SIZE)
    const long reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (reported > 0) return reported;
#endif
    return 256L * 1024;
  }();
  return bytes;
}

template <class S>
S* grow(std::vector<S, Eigen::aligned_allocator<S>>& buffer, std::size_t size) {
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

}  // namespace eigenflow::detail::gemm_kernel

#ifdef EIGENFLOW_DISPATCH
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define EIGENFLOW_KERNEL_ISA 1
namespace eigenflow::detail::gemm_kernel::avx2 {
#include "eigenflow/core/kernels/gemm_kernel_impl.hpp"
}  // namespace eigenflow::detail::gemm_kernel::avx2
#undef EIGENFLOW_KERNEL_ISA
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif
#define EIGENFLOW_KERNEL_ISA 2
namespace eigenflow::detail::gemm_kernel::avx512 {
#include "eigenflow/core/kernels/gemm_kernel_impl.hpp"
}  // namespace eigenflow::detail::gemm_kernel::avx512
#undef EIGENFLOW_KERNEL_ISA
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

namespace eigenflow::detail::gemm_kernel {

/// Eigen's own SIMD width in bytes, as the includer's flags compiled it.
inline constexpr int eigen_vector_bytes =
#if defined(EIGEN_VECTORIZE_AVX512)
    64;
#elif defined(EIGEN_VECTORIZE_AVX)
    32;
#else
    16;
#endif

/// Whether the kernel on `isa` beats Eigen's on this shape. Against Eigen at the
/// same width it is 1.2–1.3× from 64³ up and worse only on products too small or
/// too skinny to fill its register tile; against a narrower Eigen (the portable
/// build) it wins from a few thousand multiply-adds on.
template <class S>
bool worth_it([[maybe_unused]] Isa isa, [[maybe_unused]] Index m, [[maybe_unused]] Index n,
              [[maybe_unused]] Index k) {
#ifdef EIGENFLOW_DISPATCH
  if (!kernel_available<S> || isa == Isa::portable) return false;
  const int kernel_bytes = isa == Isa::avx512 ? 64 : 32;
  const Index mr = isa == Isa::avx512 ? avx512::Tiling<S>::mr : avx2::Tiling<S>::mr;
  const Index nr = isa == Isa::avx512 ? avx512::Tiling<S>::nr : avx2::Tiling<S>::nr;
  if (kernel_bytes > eigen_vector_bytes) return m >= mr / 2 && n >= nr && k >= 8 && m * n * k >= 32 * 32 * 16;
  return m >= mr && n >= nr && k >= 16 && m * n * k >= 64 * 64 * 64;
#else
  return false;
#endif
}

/// c (m × n, column-major, leading dimension ldc) += alpha · op(a) · op(b) on the kernel
/// for `isa`; with an epilogue, c = relu?([bias +] alpha · op(a) · op(b)) instead
/// (bias: n values, one per column). False (c untouched) if there is no kernel for isa.
template <class S>
bool gemm([[maybe_unused]] Isa isa, [[maybe_unused]] Index m, [[maybe_unused]] Index n, [[maybe_unused]] Index k,
          [[maybe_unused]] S alpha, [[maybe_unused]] const Operand<S>& a, [[maybe_unused]] const Operand<S>& b,
          [[maybe_unused]] S* c, [[maybe_unused]] Index ldc, [[maybe_unused]] const Epilogue<S>& epilogue = {}) {
#ifdef EIGENFLOW_DISPATCH
  if constexpr (kernel_available<S>) {
    if (isa == Isa::avx512) return avx512::gemm<S>(m, n, k, alpha, a, b, c, ldc, epilogue), true;
    if (isa == Isa::avx2) return avx2::gemm<S>(m, n, k, alpha, a, b, c, ldc, epilogue), true;
  }
#endif
  return false;
}

/// combine_columns, skinny_dots and relu_mask_sum of kernels/gemm_kernel_impl.hpp on
/// `isa`'s vectors; false (nothing done) on the portable path, where Eigen's loops run.
template <class S>
bool combine_columns([[maybe_unused]] Isa isa, [[maybe_unused]] Index m, [[maybe_unused]] Index k,
                     [[maybe_unused]] Index n, [[maybe_unused]] const S* a, [[maybe_unused]] Index lda,
                     [[maybe_unused]] const S* coef, [[maybe_unused]] Index col_step, [[maybe_unused]] Index stride,
                     [[maybe_unused]] S alpha, [[maybe_unused]] S* c, [[maybe_unused]] Index ldc,
                     [[maybe_unused]] bool set, [[maybe_unused]] const S* bias, [[maybe_unused]] bool relu) {
#ifdef EIGENFLOW_DISPATCH
  if constexpr (kernel_available<S>) {
    if (isa == Isa::avx512)
      return avx512::combine_columns<S>(m, k, n, a, lda, coef, col_step, stride, alpha, c, ldc, set, bias, relu), true;
    if (isa == Isa::avx2)
      return avx2::combine_columns<S>(m, k, n, a, lda, coef, col_step, stride, alpha, c, ldc, set, bias, relu), true;
  }
#endif
  return false;
}
template <class S>
bool skinny_dots([[maybe_unused]] Isa isa, [[maybe_unused]] Index m, [[maybe_unused]] Index n, [[maybe_unused]] Index k,
                 [[maybe_unused]] S alpha, [[maybe_unused]] const S* a, [[maybe_unused]] Index lda,
                 [[maybe_unused]] const S* b, [[maybe_unused]] Index ldb, [[maybe_unused]] S* c,
                 [[maybe_unused]] Index ldc, [[maybe_unused]] bool overwrite) {
#ifdef EIGENFLOW_DISPATCH
  if constexpr (kernel_available<S>) {
    if (isa == Isa::avx512) return avx512::skinny_dots<S>(m, n, k, alpha, a, lda, b, ldb, c, ldc, overwrite), true;
    if (isa == Isa::avx2) return avx2::skinny_dots<S>(m, n, k, alpha, a, lda, b, ldb, c, ldc, overwrite), true;
  }
#endif
  return false;
}
/// dz = y > 0 ? dz : 0 over n values, their sum into *total; false on the portable path.
template <class S>
bool relu_mask_sum([[maybe_unused]] Isa isa, [[maybe_unused]] Index n, [[maybe_unused]] const S* y,
                   [[maybe_unused]] S* dz, [[maybe_unused]] S* total) {
#ifdef EIGENFLOW_DISPATCH
  if constexpr (kernel_available<S>) {
    if (isa == Isa::avx512) return *total = avx512::relu_mask_sum<S>(n, y, dz), true;
    if (isa == Isa::avx2) return *total = avx2::relu_mask_sum<S>(n, y, dz), true;
  }
#endif
  return false;
}

}  // namespace eigenflow::detail::gemm_kernel
