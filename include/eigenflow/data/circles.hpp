// Circles, scikit-learn's make_circles with factor 0.5, times 3: n_out = ⌊n/2⌋
// points on radius 3 and n − n_out on radius 1.5, at linspace angles
// (endpoint excluded), plus N(0, noise²), shuffled. Density: the equal
// mixture of n Gaussians at those centres.
#pragma once

#include <cmath>

#include "eigenflow/data/gaussian_mixture.hpp"

namespace eigenflow {

inline Matrix<double> circles_centres(Index n) {
  const Index outer = n / 2, inner = n - outer;
  Matrix<double> centres(n, 2);
  place_on_circle(centres, 0, outer, 3.0);
  place_on_circle(centres, outer, inner, 1.5);
  return centres;
}

inline GaussianMixture circles_distribution(Index n, double noise) { return GaussianMixture::equal(circles_centres(n), noise); }

inline Matrix<double> circles(Index n, double noise, Random& rng) { return jitter_and_shuffle(circles_centres(n), noise, rng); }

}  // namespace eigenflow
