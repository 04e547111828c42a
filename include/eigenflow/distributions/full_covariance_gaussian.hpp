// The full-covariance Gaussian fitted by maximum likelihood: the baseline a
// flow must beat on held-out data to have earned its keep.
//   μ = mean of the rows,  Σ = (1/N) Σ_i (x_i − μ)ᵀ(x_i − μ),  Σ = L Lᵀ (Cholesky)
//   log N(x; μ, Σ) = −½‖L⁻¹(x − μ)ᵀ‖² − Σ_j log L_jj − (D/2)·log 2π
#pragma once

#include <Eigen/Cholesky>

#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/compiled.hpp"

namespace eigenflow {

class FullCovarianceGaussian {
 public:
  /// The maximum-likelihood fit to the rows of data; refuses fewer than D + 1 rows
  /// and data whose covariance is singular (a constant or linearly dependent column).
  static FullCovarianceGaussian fit(const Matrix<double>& data);

  Index dim() const { return mean_.cols(); }
  const RowVector<double>& mean() const { return mean_; }
  const Matrix<double>& covariance() const { return covariance_; }

  ColumnVector<double> log_prob(const Matrix<double>& x) const;

  /// −mean log N(x; μ, Σ).
  double mean_negative_log_likelihood(const Matrix<double>& x) const { return -log_prob(x).mean(); }

 private:
  RowVector<double> mean_;
  Matrix<double> covariance_;
  Eigen::LLT<Matrix<double>> cholesky_;
  double log_det_half_ = 0;  ///< Σ_j log L_jj = ½ log det Σ
};

}  // namespace eigenflow

#ifndef EIGENFLOW_PREBUILT
#include "eigenflow/distributions/full_covariance_gaussian_impl.hpp"
#endif
