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

/// A context for the rows of `points`: one row each, context_dim columns, finite.
template <class Derived, class Other>
void require_context(const char* where, const Eigen::MatrixBase<Derived>& points, const Eigen::MatrixBase<Other>& c,
                     Index context_dim) {
  if (context_dim == 0 && c.cols() > 0)
    throw ShapeError(std::string(where) + ": this flow takes no context, found one of " + std::to_string(c.cols()) +
                     " columns");
  if (c.cols() != context_dim || c.rows() != points.rows())
    throw ShapeError(std::string(where) + ": expected a context of " + shape_string(points.rows(), context_dim) +
                     " (one row per point), found " + shape_string(c.rows(), c.cols()));
  require_finite((std::string(where) + " (context)").c_str(), c);
}

/// A pass without a context, refused by a flow conditioned on context_dim > 0 columns.
inline void require_unconditional(const char* where, Index context_dim) {
  if (context_dim > 0)
    throw ShapeError(std::string(where) + ": this flow is conditioned on a context of " + std::to_string(context_dim) +
                     " columns; pass one (one row per point)");
}

inline void require_positive_dim(const char* where, Index dim) {
  if (dim <= 0) throw ValueError(std::string(where) + ": dimension must be at least 1, found " + std::to_string(dim));
}

}  // namespace eigenflow::detail
