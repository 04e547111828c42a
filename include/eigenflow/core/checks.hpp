// Argument checks shared across the library; each throws with a message that
// says where, what was expected and what was found.
#pragma once

#include <cmath>
#include <string>

#include "eigenflow/core/error.hpp"
#include "eigenflow/core/types.hpp"

namespace eigenflow::detail {

[[noreturn]] inline void throw_wrong_columns(const std::string& where, Index rows, Index cols, Index dim) {
  throw ShapeError(where + ": expected points with " + std::to_string(dim) +
                   " columns (one point per row), found a " + shape_string(rows, cols) + " matrix");
}

/// A batch must have `dim` columns (one sample per row).
template <class Derived>
void require_columns(const char* where, const Eigen::MatrixBase<Derived>& x, Index dim) {
  if (x.cols() != dim) throw_wrong_columns(where, x.rows(), x.cols(), dim);
}

/// Every entry finite; names the first offending row and column.
template <class Derived>
void require_finite(const char* where, const Eigen::MatrixBase<Derived>& x) {
  if (x.allFinite()) return;
  for (Index i = 0; i < x.rows(); ++i)
    for (Index j = 0; j < x.cols(); ++j)
      if (!std::isfinite(static_cast<double>(x(i, j))))
        throw ValueError(std::string(where) + ": non-finite value " + std::to_string(static_cast<double>(x(i, j))) +
                         " at row " + std::to_string(i) + ", column " + std::to_string(j));
}

inline void require_positive_dim(const char* where, Index dim) {
  if (dim <= 0) throw ValueError(std::string(where) + ": dimension must be at least 1, found " + std::to_string(dim));
}

}  // namespace eigenflow::detail
