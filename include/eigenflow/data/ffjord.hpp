// The 2D benchmark sets of FFJORD (Grathwohl et al. 2019), same distributions:
//   8gaussians:   (c + 0.5·N(0, I)) / 1.414, c uniform among 4·(±1, 0), 4·(0, ±1), 4·(±1/√2, ±1/√2)
//   checkerboard: x₁ ~ U(−2, 2), x₂ = U(0, 1) − 2B + (⌊x₁⌋ mod 2), B ~ Bernoulli(½); point 2·(x₁, x₂)
//   pinwheel:     arm k; f = (1 + N(0, 0.3²), N(0, 0.1²)); a = 2πk/5 + 0.25·e^{f₁}; point 2·(f₁cos a + f₂sin a, −f₁sin a + f₂cos a)
//   2spirals:     m = √U·540·2π/360; (−cos m·m + U/2, sin m·m + U/2) and its negative, /3, + N(0, 0.1²)
//   rings:        radii 3·(1, .75, .5, .25), n/4 points each at linspace angles (innermost takes the rest), + N(0, noise²)
#pragma once

#include <cmath>

#include "eigenflow/data/gaussian_mixture.hpp"
#include "eigenflow/data/shuffle.hpp"

namespace eigenflow {

inline GaussianMixture eight_gaussians_distribution() {
  Matrix<double> centres(8, 2);
  const double r = 1.0 / std::sqrt(2.0);
  centres << 1, 0, -1, 0, 0, 1, 0, -1, r, r, r, -r, -r, r, -r, -r;
  return GaussianMixture::equal(centres * (4.0 / 1.414), 0.5 / 1.414);
}

inline Matrix<double> eight_gaussians(Index n, Random& rng) { return eight_gaussians_distribution().sample(n, rng); }

inline Matrix<double> checkerboard(Index n, Random& rng) {
  Matrix<double> points(n, 2);
  for (Index i = 0; i < n; ++i) {
    const double x1 = rng.uniform() * 4 - 2;
    const double band = static_cast<double>(rng.below(2)) * 2;
    const double parity = std::fmod(std::floor(x1), 2.0) < 0 ? std::fmod(std::floor(x1), 2.0) + 2 : std::fmod(std::floor(x1), 2.0);
    points.row(i) << 2 * x1, 2 * (rng.uniform() - band + parity);
  }
  return points;
}

inline Matrix<double> pinwheel(Index n, Random& rng) {
  constexpr int arms = 5;
  Matrix<double> points(n, 2);
  for (Index i = 0; i < n; ++i) {
    const double f1 = 1.0 + 0.3 * rng.normal(), f2 = 0.1 * rng.normal();
    const double angle = 2 * M_PI * static_cast<double>(i % arms) / arms + 0.25 * std::exp(f1);
    points.row(i) << 2 * (f1 * std::cos(angle) + f2 * std::sin(angle)), 2 * (-f1 * std::sin(angle) + f2 * std::cos(angle));
  }
  shuffle_rows(points, rng);
  return points;
}

inline Matrix<double> two_spirals(Index n, Random& rng) {
  Matrix<double> points(n, 2);
  const Index half = n / 2;
  for (Index i = 0; i < n; ++i) {
    const double m = std::sqrt(rng.uniform()) * 540.0 * 2 * M_PI / 360.0;
    const double sign = i < half ? 1.0 : -1.0;
    const double x = -std::cos(m) * m + rng.uniform() * 0.5, y = std::sin(m) * m + rng.uniform() * 0.5;
    points.row(i) << sign * x / 3 + 0.1 * rng.normal(), sign * y / 3 + 0.1 * rng.normal();
  }
  shuffle_rows(points, rng);
  return points;
}

/// Centres of the rings set: four circles, linspace angles without the endpoint.
inline Matrix<double> rings_centres(Index n) {
  const Index quarter = n / 4;
  Matrix<double> centres(n, 2);
  place_on_circle(centres, 0, quarter, 3.0);
  place_on_circle(centres, quarter, quarter, 2.25);
  place_on_circle(centres, 2 * quarter, quarter, 1.5);
  place_on_circle(centres, 3 * quarter, n - 3 * quarter, 0.75);  // the innermost takes the remainder
  return centres;
}

inline GaussianMixture rings_distribution(Index n, double noise) { return GaussianMixture::equal(rings_centres(n), noise); }

inline Matrix<double> rings(Index n, double noise, Random& rng) { return jitter_and_shuffle(rings_centres(n), noise, rng); }

}  // namespace eigenflow
