// Log density of an isotropic Gaussian mixture, the closed form behind the sets that
// are points on a curve plus Gaussian noise (two moons, circles, the helix, ...):
//   log p(x) = logsumexp_k [ log w_k − ‖x − c_k‖²/(2σ²) ] − (d/2)·log(2πσ²)
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "eigenflow/core/error.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/core/types.hpp"
#include "eigenflow/data/shuffle.hpp"

namespace eigenflow {

/// One draw from the equal mixture at fixed centres, as make_moons and
/// make_circles produce it: every centre once, plus N(0, noise² I), rows shuffled.
inline Matrix<double> jitter_and_shuffle(Matrix<double> centres, double noise, Random& rng) {
  for (Index i = 0; i < centres.size(); ++i) centres.data()[i] += noise * rng.normal();
  shuffle_rows(centres, rng);
  return centres;
}

struct GaussianMixture {
  Matrix<double> centres;        ///< K x d
  ColumnVector<double> weights;  ///< K, summing to 1
  double sd = 1.0;               ///< per-coordinate standard deviation

  /// Equal weights.
  static GaussianMixture equal(Matrix<double> centres, double sd) {
    const Index k = centres.rows();
    return {std::move(centres), ColumnVector<double>::Constant(k, 1.0 / static_cast<double>(k)), sd};
  }

  Index dim() const { return centres.cols(); }

  ColumnVector<double> log_prob(const Matrix<double>& x) const {
    if (x.cols() != dim())
      throw ShapeError("GaussianMixture.log_prob: expected " + std::to_string(dim()) + " columns, found " + std::to_string(x.cols()));
    const ColumnVector<double> log_weight = weights.array().log();
    const double inv_two_var = 1.0 / (2 * sd * sd);
    const double log_norm = 0.5 * static_cast<double>(dim()) * std::log(2 * M_PI * sd * sd);
    ColumnVector<double> out(x.rows());
    for (Index i = 0; i < x.rows(); ++i) {
      const ColumnVector<double> terms = log_weight - (centres.rowwise() - x.row(i)).rowwise().squaredNorm() * inv_two_var;
      const double largest = terms.maxCoeff();  // log-sum-exp around the largest term
      out(i) = largest + std::log((terms.array() - largest).exp().sum()) - log_norm;
    }
    return out;
  }

  /// n draws: a centre by weight, plus N(0, sd² I).
  Matrix<double> sample(Index n, Random& rng) const {
    std::vector<double> cumulative(static_cast<std::size_t>(weights.size()));
    double running = 0;
    for (Index j = 0; j < weights.size(); ++j) cumulative[static_cast<std::size_t>(j)] = running += weights(j);
    Matrix<double> out(n, dim());
    for (Index i = 0; i < n; ++i) {
      const double u = rng.uniform() * running;
      const auto j = static_cast<Index>(std::min<std::size_t>(
          static_cast<std::size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin()),
          cumulative.size() - 1));
      for (Index c = 0; c < dim(); ++c) out(i, c) = centres(j, c) + sd * rng.normal();
    }
    return out;
  }

  /// The set itself (equal weights): every centre once, plus N(0, sd² I), rows shuffled.
  Matrix<double> generate(Random& rng) const { return jitter_and_shuffle(centres, sd, rng); }
};

/// Fills rows [first, first + count) with points on a circle of the given radius
/// at linspace angles 2πi/count (endpoint excluded).
inline void place_on_circle(Matrix<double>& centres, Index first, Index count, double radius) {
  for (Index i = 0; i < count; ++i) {
    const double angle = 2 * M_PI * static_cast<double>(i) / static_cast<double>(count);
    centres.row(first + i) << radius * std::cos(angle), radius * std::sin(angle);
  }
}

}  // namespace eigenflow
