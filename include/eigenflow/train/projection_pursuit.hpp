// Projection pursuit: the directions along which whitened rows are least
// Gaussian, found one at a time (Friedman & Tukey 1974; Huber 1985), to start a
// subspace flow's rotation where the structure is.
// The index of a unit direction w is the squared 1-Wasserstein-2 distance between
// the rows' projections y = Y·w and N(0, 1), in its sorted-sample form
//   I(w) = (1/m) Σ_i (y_(i) − q_i)²,   q_i = Φ⁻¹((i − ½)/m),
//   ∇I(w) = (2/m) Σ_i (y_(i) − q_i)·Y_(i)      (the sort order held fixed),
// maximised by projected gradient ascent on the unit sphere within the orthogonal
// complement of the directions already found (deflation), from a few random starts
// and from the two best eigenvectors of E[|y|²·y·yᵀ] (FOBI, Cardoso 1989: for
// whitened rows each independent source is an eigenvector, a Gaussian one with
// eigenvalue D + 2). Random starts alone missed a weak second direction among 15
// Gaussian ones (mixed-moons D = 16). For Gaussian rows I is O(log m / m) everywhere.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include <Eigen/Eigenvalues>
#include <Eigen/QR>

#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/random.hpp"

namespace eigenflow {

struct ProjectionPursuitOptions {
  Index max_rows = 4000;  ///< rows the index is computed on (a random subset of larger sets)
  Index restarts = 4;     ///< random starts per direction; the best end is kept
  Index iterations = 60;  ///< gradient steps per start
};

namespace detail {

/// Φ⁻¹(p) for 0 < p < 1: Acklam's rational approximation (relative error 1.2e-9),
/// refined by one Halley step on Φ(x) − p = ½·erfc(−x/√2) − p to double precision.
inline double normal_quantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
  const double low = 0.02425;
  double x = 0;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

/// I(w) and ∇I(w) for the rows y (m x D) and the normal quantiles q (sorted, m).
inline double pursuit_index(const Matrix<double>& y, const Eigen::VectorXd& quantiles, const Eigen::VectorXd& w,
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

/// Whitened rows (N x D, about zero mean and unit covariance) → an orthogonal D x D
/// matrix whose rows are directions in decreasing order of non-Gaussianity, and each
/// direction's index I (the last direction is what the others leave).
struct PursuitDirections {
  Matrix<double> rotation;
  Eigen::VectorXd index;
};

inline PursuitDirections projection_pursuit(const Matrix<double>& whitened, Random& rng, const ProjectionPursuitOptions& options = {}) {
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
