// LinearMixing's definitions (core/compiled.hpp: inline here, or compiled once into
// eigenflow::prebuilt).
#pragma once

#include <cmath>
#include <string>

#include "eigenflow/data/linear_mixing.hpp"

namespace eigenflow {

EIGENFLOW_INLINE LinearMixing::LinearMixing(Index dim) : rotation_(Matrix<double>::Identity(dim, dim)), scales_(dim) {
  if (dim < 2) throw ValueError("LinearMixing: the dimension must be at least 2, found " + std::to_string(dim));
  for (Index i = 0; i + 1 < dim; ++i) {
    const double theta = M_PI / 3 + static_cast<double>(i) * M_PI / 7;
    Matrix<double> givens = Matrix<double>::Identity(dim, dim);
    givens(i, i) = givens(i + 1, i + 1) = std::cos(theta);
    givens(i, i + 1) = -std::sin(theta);
    givens(i + 1, i) = std::sin(theta);
    rotation_ = givens * rotation_;
  }
  for (Index j = 0; j < dim; ++j) scales_(j) = std::exp2(static_cast<double>(j) / static_cast<double>(dim - 1));
}

EIGENFLOW_INLINE Matrix<double> LinearMixing::matrix() const { return rotation_ * scales_.asDiagonal(); }

EIGENFLOW_INLINE Matrix<double> LinearMixing::mix(const Matrix<double>& s) const { return s * matrix().transpose(); }

EIGENFLOW_INLINE Matrix<double> LinearMixing::unmix(const Matrix<double>& x) const {
  return (x * rotation_) * scales_.cwiseInverse().asDiagonal();
}

}  // namespace eigenflow
