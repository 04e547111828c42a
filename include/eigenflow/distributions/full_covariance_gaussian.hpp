// The full-covariance Gaussian fitted by maximum likelihood: the baseline a
// flow must beat on held-out data to have earned its keep.
//   μ = mean of the rows,  Σ = (1/N) Σ_i (x_i − μ)ᵀ(x_i − μ),  Σ = L Lᵀ (Cholesky)
//   log N(x; μ, Σ) = −½‖L⁻¹(x − μ)ᵀ‖² − Σ_j log L_jj − (D/2)·log 2π
#pragma once

#include <Eigen/Cholesky>

#include <cmath>
#include <string>

#include "eigenflow/core/checks.hpp"

namespace eigenflow {

class FullCovarianceGaussian {
 public:
  /// The maximum-likelihood fit to the rows of data; refuses fewer than D + 1 rows
  /// and data whose covariance is singular (a constant or linearly dependent column).
  static FullCovarianceGaussian fit(const Matrix<double>& data) {
    detail::require_finite("FullCovarianceGaussian.fit", data);
    const Index n = data.rows(), d = data.cols();
    detail::require_positive_dim("FullCovarianceGaussian.fit", d);
    if (n <= d)
      throw ValueError("FullCovarianceGaussian.fit: needs more rows than columns (" + std::to_string(d) + "), found " +
                       std::to_string(n));
    FullCovarianceGaussian g;
    g.mean_ = data.colwise().mean();
    const Matrix<double> centred = data.rowwise() - g.mean_;
    g.covariance_ = centred.transpose() * centred / static_cast<double>(n);
    g.cholesky_.compute(g.covariance_);
    const Eigen::VectorXd diagonal = g.cholesky_.matrixLLT().diagonal();  // L's diagonal
    // Singular to working precision: a pivot below √ε of the largest (relative variance below ε).
    if (g.cholesky_.info() != Eigen::Success || !(diagonal.minCoeff() > 1.5e-8 * diagonal.maxCoeff()))
      throw ValueError("FullCovarianceGaussian.fit: the covariance is singular (a constant or linearly dependent column)");
    g.log_det_half_ = diagonal.array().log().sum();
    return g;
  }

  Index dim() const { return mean_.cols(); }
  const RowVector<double>& mean() const { return mean_; }
  const Matrix<double>& covariance() const { return covariance_; }

  ColumnVector<double> log_prob(const Matrix<double>& x) const {
    detail::require_columns("FullCovarianceGaussian.log_prob", x, dim());
    const Matrix<double> whitened = cholesky_.matrixL().solve((x.rowwise() - mean_).transpose());
    const double constant = log_det_half_ + 0.5 * static_cast<double>(dim()) * std::log(2 * M_PI);
    return (-0.5 * whitened.colwise().squaredNorm().transpose()).array() - constant;
  }

  /// −mean log N(x; μ, Σ).
  double mean_negative_log_likelihood(const Matrix<double>& x) const { return -log_prob(x).mean(); }

 private:
  RowVector<double> mean_;
  Matrix<double> covariance_;
  Eigen::LLT<Matrix<double>> cholesky_;
  double log_det_half_ = 0;  ///< Σ_j log L_jj = ½ log det Σ
};

}  // namespace eigenflow
