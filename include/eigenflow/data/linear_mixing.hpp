// The fixed invertible mixing behind the D-dimensional sets with an exact density
// (mixed-moons, mixed-helix, mixed-sources): a structure s in its own coordinates
// is seen only through x = A·s, so that no coordinate of x holds it alone.
//   A = R·diag(σ),   σ_j = 2^{j/(D−1)}, j = 0..D−1 (scales 1 to 2)
//   R = G_{D−2} ⋯ G_1·G_0, G_i the rotation by θ_i = π/3 + i·π/7 in the plane of coordinates (i, i+1)
//   log p(x) = log p_s(A⁻¹x) − Σ_j log σ_j,   A⁻¹x = diag(1/σ)·Rᵀ·x
#pragma once

#include <cmath>

#include "eigenflow/core/compiled.hpp"
#include "eigenflow/core/error.hpp"
#include "eigenflow/core/types.hpp"

namespace eigenflow {

class LinearMixing {
 public:
  explicit LinearMixing(Index dim);

  Index dim() const { return scales_.size(); }
  /// A = R·diag(σ).
  Matrix<double> matrix() const;
  /// log|det A| = Σ_j log σ_j.
  double log_abs_det() const { return scales_.array().log().sum(); }
  /// Rows s to rows x = (A·s)ᵀ.
  Matrix<double> mix(const Matrix<double>& s) const;
  /// Rows x to rows s = (diag(1/σ)·Rᵀ·x)ᵀ.
  Matrix<double> unmix(const Matrix<double>& x) const;

 private:
  Matrix<double> rotation_;
  Eigen::VectorXd scales_;
};

}  // namespace eigenflow

#ifndef EIGENFLOW_PREBUILT
#include "eigenflow/data/linear_mixing_impl.hpp"
#endif
