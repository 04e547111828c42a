// The instruction set our own kernels run on, chosen once from the CPU at run
// time, so the default build (no -march flags) is the fast build.
//
// Eigen picks its SIMD packets when it is compiled, from the includer's flags:
// without -march they are SSE2 on x86-64. Our hot kernels (the GEMM
// micro-kernel and packing, core/kernels/; the transcendental elementwise
// maps of the activations) are compiled three times instead, each copy under
// its own `#pragma GCC target` in its own namespace (kernels/dispatch.hpp),
// and the widest copy the CPU supports is called. EIGENFLOW_ISA forces one:
//   EIGENFLOW_ISA=portable|avx2|avx512
// ("portable" is Eigen's own code at the build's flags; avx2 means AVX2 + FMA,
// avx512 means AVX-512F and DQ with AVX2 + FMA). Forcing a path this CPU or this
// compiler lacks is an error, not a silent fallback. Non-x86 targets and
// compilers without GCC's target pragmas only have the portable path.
#pragma once

#include <array>
#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "eigenflow/core/error.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(EIGENFLOW_NO_DISPATCH)
#define EIGENFLOW_DISPATCH 1
#endif

namespace eigenflow {

/// The code paths of the dispatched kernels, narrowest first.
enum class Isa { portable = 0, avx2 = 1, avx512 = 2 };

namespace detail {
inline constexpr std::array<std::pair<Isa, std::string_view>, 3> isa_names{{
    {Isa::portable, "portable"},
    {Isa::avx2, "avx2"},
    {Isa::avx512, "avx512"},
}};
}  // namespace detail

inline std::string_view to_string(Isa isa) {
  for (const auto& [value, name] : detail::isa_names)
    if (value == isa) return name;
  return "unknown";
}

/// Parses "portable", "avx2" or "avx512"; throws ValueError listing them otherwise.
inline Isa parse_isa(std::string_view name) {
  for (const auto& [value, known] : detail::isa_names)
    if (known == name) return value;
  throw ValueError("unknown instruction set '" + std::string(name) + "' (expected one of: portable, avx2, avx512)");
}

/// Whether this CPU runs `isa` and this build has a kernel for it.
inline bool isa_supported(Isa isa) {
  if (isa == Isa::portable) return true;
#ifdef EIGENFLOW_DISPATCH
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == Isa::avx2) return avx2;
  // the AVX-512 copies are compiled for avx512f and avx512dq (elementwise.hpp's
  // double exp converts to 64-bit integers, a DQ instruction): check both
  return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

/// The widest path this CPU supports.
inline Isa best_isa() {
  return isa_supported(Isa::avx512) ? Isa::avx512 : isa_supported(Isa::avx2) ? Isa::avx2 : Isa::portable;
}

namespace detail {
/// -1 until the first kernel call reads EIGENFLOW_ISA (or the CPU), then the chosen Isa.
inline std::atomic<int>& isa_choice() {
  static std::atomic<int> choice{-1};
  return choice;
}

inline Isa checked_isa(Isa isa, const char* where) {
  if (!isa_supported(isa))
    throw ValueError(std::string(where) + ": the '" + std::string(to_string(isa)) + "' path is not available (" +
                     (best_isa() == Isa::portable ? "this CPU or build has only 'portable'"
                                                  : "the widest this CPU supports is '" + std::string(to_string(best_isa())) + "'") +
                     ")");
  return isa;
}
}  // namespace detail

/// The path the kernels run on: EIGENFLOW_ISA if set (an unknown or unsupported
/// value throws ValueError, naming the variable), else the widest the CPU supports.
inline Isa active_isa() {
  const int chosen = detail::isa_choice().load(std::memory_order_relaxed);
  if (chosen >= 0) return static_cast<Isa>(chosen);
  Isa isa = best_isa();
  if (const char* forced = std::getenv("EIGENFLOW_ISA"); forced && *forced) {
    try {
      isa = detail::checked_isa(parse_isa(forced), "EIGENFLOW_ISA");
    } catch (const ValueError& e) {
      throw ValueError(std::string("EIGENFLOW_ISA=") + forced + ": " + e.what());
    }
  }
  detail::isa_choice().store(static_cast<int>(isa), std::memory_order_relaxed);
  return isa;
}

/// Forces the kernels' path from now on (tests run every path this way); throws
/// ValueError if this CPU or build lacks it. Not meant to race with running kernels.
inline void set_isa(Isa isa) {
  detail::isa_choice().store(static_cast<int>(detail::checked_isa(isa, "set_isa")), std::memory_order_relaxed);
}

}  // namespace eigenflow
