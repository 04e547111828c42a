// The fixed invertible mixing behind the D-dimensional sets with an exact density
// (mixed-moons, mixed-helix, mixed-sources): a structure s in its own coordinates
// is seen only through x = A·s, so that no coordinate of x holds it alone.
//   A = R·diag(σ),   σ_j = 2^{j/(D−1)}, j = 0..D−1 (scales 1 to 2)
//   R = G_{D−2} ⋯ G_1·G_0, G_i the rotation by θ_i = π/3 + i·π/7 in the plane of coordinates (i, i+1)
//   log p(x) = log p_s(A⁻¹x) − Σ_j log σ_j,   A⁻¹x = diag(1/σ)·Rᵀ·x
#pragma once

#include <cmath>
#include <string>

#include "eigenflow/core/error.hpp"
#include "eigenflow/core/types.hpp"

namespace eigenflow {

class LinearMixing {
 public:
  explicit LinearMixing(Index dim) : rotation_(Matrix<double>::Identity(dim, dim)), scales_(dim) {
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

  Index dim() const { return scales_.size(); }
  /// A = R·diag(σ).
  Matrix<double> matrix() const { return rotation_ * scales_.asDiagonal(); }
  /// log|det A| = Σ_j log σ_j.
  double log_abs_det() const { return scales_.array().log().sum(); }
  /// Rows s to rows x = (A·s)ᵀ.
  Matrix<double> mix(const Matrix<double>& s) const { return s * matrix().transpose(); }
  /// Rows x to rows s = (diag(1/σ)·Rᵀ·x)ᵀ.
  Matrix<double> unmix(const Matrix<double>& x) const { return (x * rotation_) * scales_.cwiseInverse().asDiagonal(); }

 private:
  Matrix<double> rotation_;
  Eigen::VectorXd scales_;
};

}  // namespace eigenflow
