// Safeguarded Newton iteration for a strictly increasing scalar function on a
// bracket [low, high] with g(low) <= 0 <= g(high). Every evaluation of g shrinks
// the bracket to the side of the root; a Newton step is taken only while it lands
// inside the bracket and the bracket has at least halved over the last two
// iterations, a bisection otherwise. Newton alone can cycle: on planar's
// g(α) = α + m·tanh(α + b) − y with m ≈ 6 its steps bounced between the two flat
// ends, shrinking the bracket by 1% a step (issue 35). With the halving rule the
// bracket of width W reaches the stopping width 2·eps·max(|x|, min) (min: the
// smallest normal number) within 2·log2(W / (eps·min)) + 2 iterations, so the
// iteration bound below is a proof, not a hope: W < 2^max_exponent, eps = 2^(1 − digits)
// and min = 2^(min_exponent − 1). The stop is relative: a root near 0 is found to its
// own last digits, which planar's inverse needs where its map is steep (|t| ≪ 1).
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include "eigenflow/core/error.hpp"

namespace eigenflow::detail {

/// 2·(max_exponent − min_exponent + digits) + 4: enough iterations to halve any finite
/// bracket down to the stopping width (the halving rule guarantees a halving every two).
/// Only a bracket spanning the exponent range takes that many; a simple root in an
/// ordinary bracket takes Newton's few.
template <class S>
constexpr int root_finding_iteration_bound() {
  using limits = std::numeric_limits<S>;
  return 2 * (limits::max_exponent - limits::min_exponent + limits::digits) + 4;
}

/// Root of an increasing g, given g and g' as callables; start inside [low, high].
/// Returns x with the root in [x − 2·eps·max(|x|, min), x + 2·eps·max(|x|, min)] up to the
/// rounding of g itself (a sign of g that rounding flips moves the bracket within that
/// rounding's reach). Throws NumericalError for a non-finite bracket, or when
/// max_iterations are exhausted (with the default bound: only if g is not increasing, or NaN).
template <class S, class G, class DG>
S solve_increasing(const G& g, const DG& dg, S low, S high, S start, const char* where,
                   int max_iterations = root_finding_iteration_bound<S>()) {
  constexpr S eps = std::numeric_limits<S>::epsilon();
  if (!std::isfinite(low) || !std::isfinite(high))
    throw NumericalError(std::string(where) + ": the root's bracket [" + std::to_string(low) + ", " + std::to_string(high) +
                         "] is not finite");
  S x = std::min(std::max(start, low), high);
  S width_before_last = high - low, width_last = high - low;
  for (int iteration = 0; iteration < max_iterations; ++iteration) {
    const S value = g(x);
    if (value == S(0)) return x;
    if (value > S(0)) high = x;
    else low = x;
    const S width = high - low;
    const S tolerance = 2 * eps * std::max(std::abs(x), std::numeric_limits<S>::min());
    if (width <= tolerance) return low + width / 2;
    S next = x - value / dg(x);
    const bool shrinking = width <= width_before_last / 2;
    if (!(next > low && next < high) || !shrinking) next = low + width / 2;  // the first test also catches NaN
    if (std::abs(next - x) <= tolerance / 2) return next;
    width_before_last = width_last;
    width_last = width;
    x = next;
  }
  throw NumericalError(std::string(where) + ": root finding did not converge in " + std::to_string(max_iterations) +
                       " iterations (is the function increasing and finite on [" + std::to_string(low) + ", " +
                       std::to_string(high) + "]?)");
}

}  // namespace eigenflow::detail
