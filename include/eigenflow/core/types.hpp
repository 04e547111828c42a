// Scalar and matrix aliases used throughout eigenflow.
//
// Convention: a batch is a Matrix with one sample per row (N x D); per-row
// quantities such as log-determinants are column vectors (N x 1).
#pragma once

#include <Eigen/Core>
#include <type_traits>

namespace eigenflow {

using Index = Eigen::Index;

template <class Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

template <class Scalar>
using ColumnVector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

template <class Scalar>
using RowVector = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;

template <class Scalar>
inline constexpr bool is_supported_scalar_v =
    std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>;

}  // namespace eigenflow
