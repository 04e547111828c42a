// Circles, scikit-learn's make_circles with factor 0.5, times 3: n_out = ⌊n/2⌋
// points on radius 3 and n − n_out on radius 1.5, at linspace angles
// (endpoint excluded), plus N(0, noise²), shuffled. Density: the equal
// mixture of n Gaussians at those centres.
#pragma once

#include <cmath>

#include "eigenflow/data/gaussian_mixture.hpp"
#include "eigenflow/data/shuffle.hpp"

namespace eigenflow {

inline Matrix<double> circles_centres(Index n) {
  const Index outer = n / 2, inner = n - outer;
  Matrix<double> centres(n, 2);
  for (Index i = 0; i < outer; ++i) {
    const double angle = 2 * M_PI * static_cast<double>(i) / static_cast<double>(outer);
    centres.row(i) << 3 * std::cos(angle), 3 * std::sin(angle);
  }
  for (Index i = 0; i < inner; ++i) {
    const double angle = 2 * M_PI * static_cast<double>(i) / static_cast<double>(inner);
    centres.row(outer + i) << 1.5 * std::cos(angle), 1.5 * std::sin(angle);
  }
  return centres;
}

inline GaussianMixture2d circles_distribution(Index n, double noise) { return GaussianMixture2d::equal(circles_centres(n), noise); }

inline Matrix<double> circles(Index n, double noise, Random& rng) {
  Matrix<double> points = circles_centres(n);
  for (Index i = 0; i < points.size(); ++i) points.data()[i] += noise * rng.normal();
  shuffle_rows(points, rng);
  return points;
}

}  // namespace eigenflow
