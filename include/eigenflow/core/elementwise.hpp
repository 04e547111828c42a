// The transcendental elementwise maps on the widest SIMD path the CPU has
// (core/isa.hpp): exp (float, double), tanh and GELU (float). Eigen's packets
// are compiled for the includer's flags — SSE2 in a portable build — while
// these copies run on AVX2 or AVX-512 whenever the CPU does. Formulas and
// their accuracy: kernels/elementwise_impl.hpp; on the portable path, or for
// a map without a kernel, the callers keep Eigen's array forms (functions.hpp).
#pragma once

#include <cstdint>
#include <type_traits>

#include "eigenflow/core/isa.hpp"
#include "eigenflow/core/types.hpp"

#ifdef EIGENFLOW_DISPATCH
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define EIGENFLOW_KERNEL_VECTOR_BYTES 32
namespace eigenflow::detail::elementwise::avx2 {
#include "eigenflow/core/kernels/elementwise_impl.hpp"
}  // namespace eigenflow::detail::elementwise::avx2
#undef EIGENFLOW_KERNEL_VECTOR_BYTES
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx2,fma"))), apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx2,fma")
#endif
#define EIGENFLOW_KERNEL_VECTOR_BYTES 64
namespace eigenflow::detail::elementwise::avx512 {
#include "eigenflow/core/kernels/elementwise_impl.hpp"
}  // namespace eigenflow::detail::elementwise::avx512
#undef EIGENFLOW_KERNEL_VECTOR_BYTES
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

namespace eigenflow::detail::elementwise {

/// The maps with kernels; a functor of core/functions.hpp names its own as `kernel`.
enum class Map { exp, tanh, gelu };

/// Whether `map` on S has a kernel on the active path.
template <class S>
bool has_kernel([[maybe_unused]] Map map) {
#ifdef EIGENFLOW_DISPATCH
  if (active_isa() == Isa::portable) return false;
  if constexpr (std::is_same_v<S, float>) return true;
  else if constexpr (std::is_same_v<S, double>) return map == Map::exp;
#endif
  return false;
}

/// y = map(x) over n contiguous values (y may be x). Requires has_kernel<S>(map).
template <class S>
void apply([[maybe_unused]] Map map, [[maybe_unused]] const S* x, [[maybe_unused]] S* y, [[maybe_unused]] Index n) {
#ifdef EIGENFLOW_DISPATCH
  const bool wide = active_isa() == Isa::avx512;
  if constexpr (std::is_same_v<S, float>) {
    switch (map) {
      case Map::exp: return wide ? avx512::map<S, avx512::ExpKernel>(x, y, n) : avx2::map<S, avx2::ExpKernel>(x, y, n);
      case Map::tanh: return wide ? avx512::map<S, avx512::TanhKernel>(x, y, n) : avx2::map<S, avx2::TanhKernel>(x, y, n);
      case Map::gelu: return wide ? avx512::map<S, avx512::GeluKernel>(x, y, n) : avx2::map<S, avx2::GeluKernel>(x, y, n);
    }
  } else if constexpr (std::is_same_v<S, double>) {
    if (map == Map::exp) return wide ? avx512::map<S, avx512::ExpKernel>(x, y, n) : avx2::map<S, avx2::ExpKernel>(x, y, n);
  }
#endif
  throw Error("elementwise::apply: no kernel for this map and scalar");
}

/// dx += dy · gelu'(x) over n contiguous values. Requires has_kernel<S>(Map::gelu).
template <class S>
void accumulate_gelu_derivative([[maybe_unused]] const S* x, [[maybe_unused]] const S* dy, [[maybe_unused]] S* dx,
                                [[maybe_unused]] Index n) {
#ifdef EIGENFLOW_DISPATCH
  if constexpr (std::is_same_v<S, float>) {
    if (active_isa() == Isa::avx512) return avx512::accumulate_derivative<S, avx512::GeluKernel>(x, dy, dx, n);
    return avx2::accumulate_derivative<S, avx2::GeluKernel>(x, dy, dx, n);
  }
#endif
  throw Error("elementwise::accumulate_gelu_derivative: no kernel for this scalar");
}

}  // namespace eigenflow::detail::elementwise
