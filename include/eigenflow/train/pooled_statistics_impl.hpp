// pooled_covariance's definition (core/compiled.hpp: inline here, or compiled once into
// eigenflow::prebuilt).
#pragma once

#include <string>

#include "eigenflow/train/pooled_statistics.hpp"

namespace eigenflow {

EIGENFLOW_INLINE Matrix<double> pooled_covariance(Communicator& communicator, const Matrix<double>& shard) {
  const auto [mean, rows] = pooled_mean(communicator, shard);
  if (!(rows > static_cast<double>(shard.cols())))
    throw ValueError("pooled_covariance: needs more rows than columns (" + std::to_string(shard.cols()) + "), found " +
                     std::to_string(static_cast<long long>(rows)));
  const Matrix<double> centred = shard.rowwise() - mean;
  Matrix<double> products = centred.transpose() * centred;
  communicator.sum(products.data(), static_cast<std::size_t>(products.size()));
  return products / rows;
}

}  // namespace eigenflow
