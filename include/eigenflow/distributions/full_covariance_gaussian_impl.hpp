// FullCovarianceGaussian's definitions (core/compiled.hpp: inline here, or compiled once
// into eigenflow::prebuilt).
#pragma once

#include <cmath>
#include <string>

#include "eigenflow/distributions/full_covariance_gaussian.hpp"

namespace eigenflow {

EIGENFLOW_INLINE FullCovarianceGaussian FullCovarianceGaussian::fit(const Matrix<double>& data) {
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

EIGENFLOW_INLINE ColumnVector<double> FullCovarianceGaussian::log_prob(const Matrix<double>& x) const {
  detail::require_columns("FullCovarianceGaussian.log_prob", x, dim());
  const Matrix<double> whitened = cholesky_.matrixL().solve((x.rowwise() - mean_).transpose());
  const double constant = log_det_half_ + 0.5 * static_cast<double>(dim()) * std::log(2 * M_PI);
  return (-0.5 * whitened.colwise().squaredNorm().transpose()).array() - constant;
}

}  // namespace eigenflow
