// lu_linear.hpp's double-precision helpers (core/compiled.hpp: inline here, or compiled
// once into eigenflow::prebuilt).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <Eigen/Eigenvalues>
#include <Eigen/LU>
#include <Eigen/QR>

#include "eigenflow/flows/linear/lu_linear.hpp"

namespace eigenflow::detail {

EIGENFLOW_INLINE Matrix<double> random_rotation(Index dim, Random& rng) {
  const Matrix<double> gaussian = rng.normal_matrix<double>(dim, dim);
  const Eigen::HouseholderQR<Matrix<double>> qr(gaussian);
  Matrix<double> q = qr.householderQ();
  const Matrix<double> r = qr.matrixQR().triangularView<Eigen::Upper>();
  for (Index j = 0; j < dim; ++j)
    if (r(j, j) < 0) q.col(j) *= -1;
  return q;
}

EIGENFLOW_INLINE LuFactors lu_factors(const Matrix<double>& w) {
  const Index dim = w.rows();
  require_positive_dim("LuLinear::factorize", dim);
  if (w.cols() != dim)
    throw ShapeError("LuLinear::factorize: W must be square, found " + std::to_string(dim) + "x" + std::to_string(w.cols()));
  if (!w.allFinite()) throw ValueError("LuLinear::factorize: W must be finite");
  const Eigen::PartialPivLU<Matrix<double>> lu(w);
  const Matrix<double> p = lu.permutationP().transpose() * Matrix<double>::Identity(dim, dim);
  LuFactors out{std::vector<Index>(static_cast<std::size_t>(dim)), lu.matrixLU(), {}, {}};
  for (Index i = 0; i < dim; ++i) p.row(i).maxCoeff(&out.perm[static_cast<std::size_t>(i)]);
  const RowVector<double> diagonal = out.factors.diagonal().transpose();
  if (!(diagonal.array() != 0).all()) throw ValueError("LuLinear::factorize: W is singular");
  out.sign = diagonal.unaryExpr([](double v) { return v < 0 ? -1.0 : 1.0; });
  out.log_abs_s = diagonal.array().abs().log().matrix();
  return out;
}

EIGENFLOW_INLINE Matrix<double> inverse_square_root(const Matrix<double>& covariance) {
  require_finite("zca_whitening: the covariance", covariance);
  const Eigen::SelfAdjointEigenSolver<Matrix<double>> eigen(covariance);
  const Eigen::VectorXd values = eigen.eigenvalues();
  if (eigen.info() != Eigen::Success || !(values.minCoeff() > 1e-12 * values.maxCoeff()))
    throw ValueError("zca_whitening: the covariance is singular (a constant or linearly dependent column)");
  return eigen.eigenvectors() * values.array().rsqrt().matrix().asDiagonal() * eigen.eigenvectors().transpose();
}

}  // namespace eigenflow::detail
