// Log density of an isotropic Gaussian mixture in the plane, the closed form
// behind most 2D data sets (points on a curve plus Gaussian noise):
//   log p(x) = logsumexp_k [ log w_k − ‖x − c_k‖²/(2σ²) ] − log(2πσ²)
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "eigenflow/core/error.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/core/types.hpp"
#include "eigenflow/data/shuffle.hpp"

namespace eigenflow {

struct GaussianMixture2d {
  Matrix<double> centres;       ///< K x 2
  ColumnVector<double> weights;  ///< K, summing to 1
  double sd = 1.0;               ///< per-coordinate standard deviation

  /// Equal weights.
  static GaussianMixture2d equal(Matrix<double> centres, double sd) {
    const Index k = centres.rows();
    return {std::move(centres), ColumnVector<double>::Constant(k, 1.0 / static_cast<double>(k)), sd};
  }

  ColumnVector<double> log_prob(const Matrix<double>& x) const {
    if (x.cols() != 2) throw ShapeError("GaussianMixture2d.log_prob: expected 2 columns, found " + std::to_string(x.cols()));
    const Index k = centres.rows();
    std::vector<double> log_weight(static_cast<std::size_t>(k));
    for (Index j = 0; j < k; ++j) log_weight[static_cast<std::size_t>(j)] = std::log(weights(j));
    const double inv_two_var = 1.0 / (2 * sd * sd);
    const double log_norm = std::log(2 * M_PI * sd * sd);
    ColumnVector<double> out(x.rows());
    std::vector<double> terms(static_cast<std::size_t>(k));
    for (Index i = 0; i < x.rows(); ++i) {
      double largest = -std::numeric_limits<double>::infinity();
      for (Index j = 0; j < k; ++j) {
        const double dx = x(i, 0) - centres(j, 0), dy = x(i, 1) - centres(j, 1);
        const double term = log_weight[static_cast<std::size_t>(j)] - (dx * dx + dy * dy) * inv_two_var;
        terms[static_cast<std::size_t>(j)] = term;
        largest = std::max(largest, term);
      }
      double total = 0;  // log-sum-exp around the largest term
      for (double term : terms) total += std::exp(term - largest);
      out(i) = largest + std::log(total) - log_norm;
    }
    return out;
  }

  /// n draws: a centre by weight, plus N(0, sd² I).
  Matrix<double> sample(Index n, Random& rng) const {
    std::vector<double> cumulative(static_cast<std::size_t>(weights.size()));
    double running = 0;
    for (Index j = 0; j < weights.size(); ++j) cumulative[static_cast<std::size_t>(j)] = running += weights(j);
    Matrix<double> out(n, 2);
    for (Index i = 0; i < n; ++i) {
      const double u = rng.uniform() * running;
      const auto j = static_cast<Index>(std::min<std::size_t>(
          static_cast<std::size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin()),
          cumulative.size() - 1));
      out(i, 0) = centres(j, 0) + sd * rng.normal();
      out(i, 1) = centres(j, 1) + sd * rng.normal();
    }
    return out;
  }
};

/// One draw from the equal mixture at fixed centres, as make_moons and
/// make_circles produce it: every centre once, plus N(0, noise² I), rows shuffled.
inline Matrix<double> jitter_and_shuffle(Matrix<double> centres, double noise, Random& rng) {
  for (Index i = 0; i < centres.size(); ++i) centres.data()[i] += noise * rng.normal();
  shuffle_rows(centres, rng);
  return centres;
}

/// Fills rows [first, first + count) with points on a circle of the given radius
/// at linspace angles 2πi/count (endpoint excluded).
inline void place_on_circle(Matrix<double>& centres, Index first, Index count, double radius) {
  for (Index i = 0; i < count; ++i) {
    const double angle = 2 * M_PI * static_cast<double>(i) / static_cast<double>(count);
    centres.row(first + i) << radius * std::cos(angle), radius * std::sin(angle);
  }
}

}  // namespace eigenflow
