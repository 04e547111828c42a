// Two moons, scikit-learn's make_moons: n_out = ⌊n/2⌋ points on the outer
// moon (cos θ, sin θ), θ = linspace(0, π, n_out), n_in = n − n_out on the
// inner moon (1 − cos θ, 1 − sin θ − ½), θ = linspace(0, π, n_in), each plus
// N(0, noise²) per coordinate, rows shuffled. Density: the equal mixture of
// n Gaussians (sd = noise) at those centres.
#pragma once

#include <cmath>

#include "eigenflow/data/gaussian_mixture.hpp"

namespace eigenflow {

/// The n noise-free points of make_moons, outer moon first.
inline Matrix<double> two_moons_centres(Index n) {
  const Index outer = n / 2, inner = n - outer;
  auto angle = [](Index i, Index count) { return count > 1 ? M_PI * static_cast<double>(i) / static_cast<double>(count - 1) : 0.0; };
  Matrix<double> centres(n, 2);
  for (Index i = 0; i < outer; ++i) centres.row(i) << std::cos(angle(i, outer)), std::sin(angle(i, outer));
  for (Index i = 0; i < inner; ++i)
    centres.row(outer + i) << 1 - std::cos(angle(i, inner)), 1 - std::sin(angle(i, inner)) - 0.5;
  return centres;
}

inline GaussianMixture two_moons_distribution(Index n, double noise) {
  return GaussianMixture::equal(two_moons_centres(n), noise);
}

inline Matrix<double> two_moons(Index n, double noise, Random& rng) { return jitter_and_shuffle(two_moons_centres(n), noise, rng); }

}  // namespace eigenflow
