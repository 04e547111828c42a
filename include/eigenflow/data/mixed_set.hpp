// The D-dimensional sets with an exact density: a structure on a few coordinates
// among standard Gaussian ones, under the fixed LinearMixing (data/linear_mixing.hpp),
// so that held-out NLL can be measured against the true entropy beyond 2D.
//   s = (t, g),  t ~ the structure (its own k coordinates),  g ~ N(0, I_{D−k}),  x = A·s
//   log p(x) = log p_t(s₁..s_k) + Σ_{j>k} log φ(s_j) − log|det A|,   s = A⁻¹x
//   entropy  = H(t) + (D − k)·½·log(2πe) + log|det A|
// A structure offers dim() (k), generate(rng) (the set's own rows), sample(count, rng)
// (fresh draws from its density) and log_prob(t).
//   mixed-moons    t = the two-moons points (k = 2)
//   mixed-helix    t = a noisy 3-D helix of two turns (k = 3)
//   mixed-sources  t = ⌊D/2⌋ independent non-Gaussian sources (data/independent_sources.hpp)
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "eigenflow/data/independent_sources.hpp"
#include "eigenflow/data/linear_mixing.hpp"
#include "eigenflow/data/two_moons.hpp"

namespace eigenflow {

template <class Structure>
class MixedSet {
 public:
  MixedSet(Structure structure, Index dim, const std::string& name)
      : structure_(std::move(structure)), mixing_(check_dim(dim, structure_.dim(), name)), name_(name) {}

  Index dim() const { return mixing_.dim(); }
  /// k, the structure's own coordinates.
  Index structure_dim() const { return structure_.dim(); }
  const Structure& structure() const { return structure_; }
  /// A = R·diag(σ).
  Matrix<double> mixing() const { return mixing_.matrix(); }
  double log_abs_det_mixing() const { return mixing_.log_abs_det(); }

  /// The set itself: the structure's own rows and fresh Gaussians, mixed.
  Matrix<double> generate(Random& rng) const { return mix(structure_.generate(rng), rng); }
  /// Fresh draws from the distribution.
  Matrix<double> sample(Index count, Random& rng) const { return mix(structure_.sample(count, rng), rng); }

  ColumnVector<double> log_prob(const Matrix<double>& x) const {
    if (x.cols() != dim())
      throw ShapeError(name_ + " log density: expected " + std::to_string(dim()) + " columns, found " + std::to_string(x.cols()));
    const Index k = structure_dim(), gaussian = dim() - k;
    const Matrix<double> s = mixing_.unmix(x);
    ColumnVector<double> out = structure_.log_prob(s.leftCols(k));
    out.array() -= 0.5 * s.rightCols(gaussian).array().square().rowwise().sum() +
                   0.5 * static_cast<double>(gaussian) * std::log(2 * M_PI) + log_abs_det_mixing();
    return out;
  }

 private:
  static Index check_dim(Index dim, Index structure_dim, const std::string& name) {
    const Index least = std::max<Index>(3, structure_dim);
    if (dim < least) throw ValueError(name + ": dimension must be at least " + std::to_string(least) + ", found " + std::to_string(dim));
    return dim;
  }
  Matrix<double> mix(const Matrix<double>& structure_rows, Random& rng) const {
    Matrix<double> s(structure_rows.rows(), dim());
    s.leftCols(structure_dim()) = structure_rows;
    s.rightCols(dim() - structure_dim()) = rng.normal_matrix<double>(structure_rows.rows(), dim() - structure_dim());
    return mixing_.mix(s);
  }

  Structure structure_;
  LinearMixing mixing_;
  std::string name_;
};

/// Two moons (n centres, noise) and D − 2 Gaussian coordinates.
class MixedMoons : public MixedSet<GaussianMixture> {
 public:
  MixedMoons(Index n, double noise, Index dim) : MixedSet(two_moons_distribution(n, noise), dim, "mixed-moons") {}
};

/// The n noise-free points of the helix (cos τ, sin τ, τ/(2π) − 1), τ = linspace(0, 4π, n): two turns.
inline Matrix<double> helix_centres(Index n) {
  Matrix<double> centres(n, 3);
  for (Index i = 0; i < n; ++i) {
    const double tau = n > 1 ? 4 * M_PI * static_cast<double>(i) / static_cast<double>(n - 1) : 0.0;
    centres.row(i) << std::cos(tau), std::sin(tau), tau / (2 * M_PI) - 1;
  }
  return centres;
}

/// A noisy helix (n centres plus N(0, noise² I)) and D − 3 Gaussian coordinates.
class MixedHelix : public MixedSet<GaussianMixture> {
 public:
  MixedHelix(Index n, double noise, Index dim) : MixedSet(GaussianMixture::equal(helix_centres(n), noise), dim, "mixed-helix") {}
};

/// ⌊D/2⌋ independent non-Gaussian sources (n rows per set) and D − ⌊D/2⌋ Gaussian coordinates.
class MixedSources : public MixedSet<IndependentSources> {
 public:
  MixedSources(Index n, Index dim) : MixedSet(IndependentSources(std::max<Index>(dim / 2, 1), n), dim, "mixed-sources") {}
};

}  // namespace eigenflow
