// Binary masks for coupling layers: entries equal to 1 pass through
// unchanged and condition the transform of the entries equal to 0.
#pragma once

#include <string>

#include "eigenflow/core/checks.hpp"

namespace eigenflow {

/// Halves: the first ⌈D/2⌉ entries are 1 (parity 0) or the last ⌊D/2⌋ are 1
/// (parity 1), so consecutive parities swap roles. In 2D: [1,0] and [0,1].
template <class S = double>
RowVector<S> alternating_mask(Index dim, int parity) {
  detail::require_positive_dim("alternating_mask", dim);
  if (dim < 2) throw ValueError("alternating_mask: a coupling needs dimension >= 2, found " + std::to_string(dim));
  const Index first_half = (dim + 1) / 2;
  RowVector<S> mask(dim);
  for (Index j = 0; j < dim; ++j) mask(j) = ((j < first_half) == (parity % 2 == 0)) ? S(1) : S(0);
  return mask;
}

/// Even indices are 1 (parity 0) or odd indices are 1 (parity 1).
template <class S = double>
RowVector<S> checkerboard_mask(Index dim, int parity) {
  detail::require_positive_dim("checkerboard_mask", dim);
  if (dim < 2) throw ValueError("checkerboard_mask: a coupling needs dimension >= 2, found " + std::to_string(dim));
  RowVector<S> mask(dim);
  for (Index j = 0; j < dim; ++j) mask(j) = (j % 2 == parity % 2) ? S(1) : S(0);
  return mask;
}

namespace detail {
/// A coupling mask: 0/1 entries, at least one of each, of the layer's dimension. A
/// conditional layer (conditioned on a context) may transform every entry
/// (all zeros: its parameters are functions of the context alone, which is how
/// a one-dimensional x gets a conditional density).
template <class Derived>
void validate_mask(const char* where, const Eigen::MatrixBase<Derived>& mask, bool conditional = false) {
  if (mask.rows() != 1 || mask.cols() < 1)
    throw ShapeError(std::string(where) + ": the mask must be a 1xD row, found " + shape_string(mask.rows(), mask.cols()));
  Index ones = 0;
  for (Index j = 0; j < mask.cols(); ++j) {
    const double v = static_cast<double>(mask(0, j));
    if (v != 0.0 && v != 1.0)
      throw ValueError(std::string(where) + ": mask entries must be 0 or 1, found " + std::to_string(v) +
                       " at index " + std::to_string(j));
    if (v == 1.0) ++ones;
  }
  if ((ones == 0 && !conditional) || ones == mask.cols())
    throw ValueError(std::string(where) + ": the mask must hold both 0s and 1s (all " +
                     (ones == 0 ? "zeros" : "ones") + " makes the layer " +
                     (ones == 0 ? "unconditioned; it may be all zeros only with a context" : "the identity") + ")");
}
}  // namespace detail

}  // namespace eigenflow
