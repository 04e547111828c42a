// Boomerang (seed 003's set; the density of seed 000's tutorial):
//   x₂ ~ N(0, 4²),  x₁ | x₂ ~ N(x₂²/4, 1)
//   log p(x) = log N(x₂; 0, 16) + log N(x₁; x₂²/4, 1);  entropy log(2πe) + log 4 ≈ 4.2241 nats
#pragma once

#include <cmath>

#include "eigenflow/core/random.hpp"

namespace eigenflow {

inline Matrix<double> boomerang(Index n, Random& rng) {
  Matrix<double> points(n, 2);
  for (Index i = 0; i < n; ++i) {
    const double x2 = 4.0 * rng.normal();
    points(i, 1) = x2;
    points(i, 0) = x2 * x2 / 4.0 + rng.normal();
  }
  return points;  // independent draws: already in random order
}

inline ColumnVector<double> boomerang_log_density(const Matrix<double>& x) {
  ColumnVector<double> out(x.rows());
  const double log_two_pi = std::log(2 * M_PI);
  for (Index i = 0; i < x.rows(); ++i) {
    const double x2 = x(i, 1), mean1 = x2 * x2 / 4.0;
    out(i) = -0.5 * (x2 * x2 / 16.0) - std::log(4.0) - 0.5 * log_two_pi   // N(x₂; 0, 16)
             - 0.5 * (x(i, 0) - mean1) * (x(i, 0) - mean1) - 0.5 * log_two_pi;  // N(x₁; x₂²/4, 1)
  }
  return out;
}

}  // namespace eigenflow
