// Safeguarded Newton iteration for a strictly increasing scalar function on a
// bracket [low, high] with g(low) <= 0 <= g(high): Newton steps, replaced by
// bisection whenever a step would leave the shrinking bracket, so it always
// converges and reaches machine precision quadratically near the root.
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include "eigenflow/core/error.hpp"

namespace eigenflow::detail {

/// Root of an increasing g, given g and g' as callables; start inside [low, high].
/// Throws NumericalError if it has not converged after max_iterations.
template <class S, class G, class DG>
S solve_increasing(const G& g, const DG& dg, S low, S high, S start, const char* where, int max_iterations = 200) {
  constexpr S eps = std::numeric_limits<S>::epsilon();
  S x = std::min(std::max(start, low), high);
  for (int iteration = 0; iteration < max_iterations; ++iteration) {
    const S value = g(x);
    if (value == S(0)) return x;
    if (value > S(0)) high = x;
    else low = x;
    const S slope = dg(x);
    S next = x - value / slope;
    if (!(next > low && next < high)) next = low + (high - low) / 2;  // also catches NaN
    if (std::abs(next - x) <= 2 * eps * std::max(S(1), std::abs(x)) || high - low <= 2 * eps * std::max(S(1), std::abs(x)))
      return next;
    x = next;
  }
  throw NumericalError(std::string(where) + ": root finding did not converge in " +
                       std::to_string(max_iterations) + " iterations");
}

}  // namespace eigenflow::detail
