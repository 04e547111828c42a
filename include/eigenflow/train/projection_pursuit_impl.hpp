// projection_pursuit.hpp's definitions (core/compiled.hpp: inline here, or compiled once
// into eigenflow::prebuilt).
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Eigenvalues>
#include <Eigen/QR>

#include "eigenflow/train/projection_pursuit.hpp"

namespace eigenflow {

namespace detail {

/// I(w) and ∇I(w) for the rows y (m x D) and the normal quantiles q (sorted, m).
EIGENFLOW_INLINE double pursuit_index(const Matrix<double>& y, const Eigen::VectorXd& quantiles, const Eigen::VectorXd& w,
                                      Eigen::VectorXd* gradient, std::vector<Index>& order) {
  const Eigen::VectorXd projection = y * w;
  std::iota(order.begin(), order.end(), Index(0));
  std::sort(order.begin(), order.end(), [&](Index i, Index j) { return projection(i) < projection(j); });
  const double m = static_cast<double>(y.rows());
  double index = 0;
  if (gradient) gradient->setZero(w.size());
  for (std::size_t rank = 0; rank < order.size(); ++rank) {
    const Index row = order[rank];
    const double residual = projection(row) - quantiles(static_cast<Index>(rank));
    index += residual * residual;
    if (gradient) *gradient += (2 * residual / m) * y.row(row).transpose();
  }
  return index / m;
}

}  // namespace detail

EIGENFLOW_INLINE PursuitDirections projection_pursuit(const Matrix<double>& whitened, Random& rng,
                                                      const ProjectionPursuitOptions& options) {
  const Index dim = whitened.cols();
  detail::require_positive_dim("projection_pursuit: the rows' columns", dim);
  detail::require_finite("projection_pursuit", whitened);
  if (whitened.rows() < 2) throw ValueError("projection_pursuit: needs at least 2 rows, found " + std::to_string(whitened.rows()));
  if (options.max_rows < 2 || options.restarts < 1 || options.iterations < 0)
    throw ValueError("projection_pursuit: max_rows must be at least 2, restarts at least 1, iterations non-negative");
  // the rows the index is computed on: all, or a random subset
  Matrix<double> y = whitened;
  if (whitened.rows() > options.max_rows) {
    std::vector<Index> rows(static_cast<std::size_t>(whitened.rows()));
    std::iota(rows.begin(), rows.end(), Index(0));
    rng.shuffle(rows.begin(), rows.end());
    y.resize(options.max_rows, dim);
    for (Index i = 0; i < options.max_rows; ++i) y.row(i) = whitened.row(rows[static_cast<std::size_t>(i)]);
  }
  const Index m = y.rows();
  Eigen::VectorXd quantiles(m);
  for (Index i = 0; i < m; ++i) quantiles(i) = detail::normal_quantile((static_cast<double>(i) + 0.5) / static_cast<double>(m));
  std::vector<Index> order(static_cast<std::size_t>(m));

  // FOBI's eigenvectors, as starting points
  const Eigen::VectorXd squared_norms = y.rowwise().squaredNorm();
  const Matrix<double> fourth = y.transpose() * squared_norms.asDiagonal() * y / static_cast<double>(m);
  const Eigen::SelfAdjointEigenSolver<Matrix<double>> fobi(fourth);
  PursuitDirections out{Matrix<double>(dim, dim), Eigen::VectorXd(dim)};
  Matrix<double> complement = Matrix<double>::Identity(dim, dim);  // columns: an orthonormal basis of what is left
  for (Index found = 0; found < dim; ++found) {
    const Index left = dim - found;
    Eigen::VectorXd best_w = complement.col(0);
    double best = -1;
    // starts: the two FOBI eigenvectors (within what is left) of the largest index, then random ones
    std::vector<std::pair<double, Eigen::VectorXd>> eigen_starts;
    for (Index j = 0; left > 1 && j < dim; ++j) {
      Eigen::VectorXd w = complement * (complement.transpose() * fobi.eigenvectors().col(j));
      if (w.norm() < 0.3) continue;  // mostly among the directions already found
      w.normalize();
      eigen_starts.emplace_back(detail::pursuit_index(y, quantiles, w, nullptr, order), w);
    }
    std::sort(eigen_starts.begin(), eigen_starts.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const Index eigen_count = std::min<Index>(2, static_cast<Index>(eigen_starts.size()));
    for (Index start = 0; left > 1 && start < eigen_count + options.restarts; ++start) {
      Eigen::VectorXd w, gradient;
      if (start < eigen_count) {
        w = eigen_starts[static_cast<std::size_t>(start)].second;
      } else {
        Eigen::VectorXd v = rng.normal_matrix<double>(left, 1);
        w = complement * v.normalized();
      }
      double index = detail::pursuit_index(y, quantiles, w, &gradient, order), step = 1.0;
      for (Index iteration = 0; iteration < options.iterations && step > 1e-6; ++iteration) {
        Eigen::VectorXd tangent = complement * (complement.transpose() * gradient);  // within what is left
        tangent -= tangent.dot(w) * w;                                               // and along the sphere
        if (tangent.norm() < 1e-12) break;
        const Eigen::VectorXd trial = (w + step * tangent).normalized();
        Eigen::VectorXd trial_gradient;
        const double trial_index = detail::pursuit_index(y, quantiles, trial, &trial_gradient, order);
        if (trial_index > index) {
          w = trial;
          index = trial_index;
          gradient = trial_gradient;
          step = std::min(2 * step, 4.0);
        } else {
          step /= 4;
        }
      }
      if (index > best) {
        best = index;
        best_w = w;
      }
    }
    best_w = complement * (complement.transpose() * best_w);  // rounding of many steps aside: exactly within what is left
    best_w.normalize();
    if (left == 1) best = detail::pursuit_index(y, quantiles, best_w, nullptr, order);
    out.rotation.row(found) = best_w.transpose();
    out.index(found) = best;
    // deflate: an orthonormal basis of the complement of best_w within the current one
    if (left > 1) {
      const Eigen::VectorXd within = complement.transpose() * best_w;  // unit, in the left-dimensional basis
      Matrix<double> basis(left, left);
      basis.col(0) = within;
      basis.rightCols(left - 1) = Matrix<double>::Identity(left, left).rightCols(left - 1);
      const Eigen::HouseholderQR<Matrix<double>> qr(basis);
      const Matrix<double> q = qr.householderQ();
      complement = complement * q.rightCols(left - 1);
    }
  }
  return out;
}

}  // namespace eigenflow
