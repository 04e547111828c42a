// Statistics of every rank's rows together, as one process computes them over all
// rows up to the order of the sums (each rank sums its rows, Communicator::sum adds
// the ranks'): the standardisation, the covariance for a whitening, and BatchNorm's
// population statistics of a data-parallel run. Every call is collective.
#pragma once

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "eigenflow/core/compiled.hpp"
#include "eigenflow/core/error.hpp"
#include "eigenflow/core/types.hpp"
#include "eigenflow/data/preprocess.hpp"
#include "eigenflow/train/communicator.hpp"

namespace eigenflow {

/// Collective: the mean of every rank's rows together, and how many rows they are.
inline std::pair<RowVector<double>, double> pooled_mean(Communicator& communicator, const Matrix<double>& shard) {
  const Index cols = shard.cols();
  std::vector<double> sums(static_cast<std::size_t>(cols + 1));
  for (Index j = 0; j < cols; ++j) sums[static_cast<std::size_t>(j)] = shard.col(j).sum();
  sums.back() = static_cast<double>(shard.rows());
  communicator.sum(sums.data(), sums.size());
  const double rows = sums.back();
  if (rows < 2) throw ValueError("pooled statistics need at least 2 points, found " + std::to_string(static_cast<long long>(rows)));
  return {Eigen::Map<const RowVector<double>>(sums.data(), cols) / rows, rows};
}

/// Collective: the mean and the biased variance (1/N) Σ (x − mean)² of each column over
/// every rank's rows together: Σx over ranks, then Σ(x − mean)², each summed in double.
inline std::pair<RowVector<double>, RowVector<double>> pooled_mean_and_variance(Communicator& communicator,
                                                                                const Matrix<double>& shard) {
  const auto [mean, rows] = pooled_mean(communicator, shard);
  RowVector<double> squares = (shard.rowwise() - mean).array().square().colwise().sum().matrix();
  communicator.sum(squares.data(), static_cast<std::size_t>(squares.size()));
  return {mean, squares / rows};
}

/// Collective: the shift (mean) and scale (population standard deviation) of each column
/// over every rank's rows together, as Standardization::fit gives for all rows in one
/// process up to the order of the sums: Σx over ranks, then Σ(x − mean)². A constant
/// column's scale is 0 here: the caller decides what that means.
inline Standardization pooled_moments(Communicator& communicator, const Matrix<double>& shard) {
  Standardization s;
  RowVector<double> variance;
  std::tie(s.shift, variance) = pooled_mean_and_variance(communicator, shard);
  s.scale = variance.array().sqrt().matrix();
  return s;
}

/// Collective: the maximum-likelihood covariance of every rank's rows together,
/// Σ = (1/N) Σ_i (x_i − μ)ᵀ(x_i − μ) with μ their mean, as FullCovarianceGaussian::fit
/// gives in one process up to the order of the sums.
Matrix<double> pooled_covariance(Communicator& communicator, const Matrix<double>& shard);

/// Collective: Standardization::fit of every rank's rows together (pooled_moments),
/// refusing constant columns as it does.
inline Standardization fit_standardization(Communicator& communicator, const Matrix<double>& shard) {
  Standardization s = pooled_moments(communicator, shard);
  for (Index j = 0; j < s.scale.cols(); ++j)
    if (!(s.scale(j) > 0)) throw ValueError("standardisation: column " + std::to_string(j) + " is constant (standard deviation 0)");
  return s;
}

}  // namespace eigenflow

#ifndef EIGENFLOW_PREBUILT
#include "eigenflow/train/pooled_statistics_impl.hpp"
#endif
