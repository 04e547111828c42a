// Mixed moons: a D-dimensional set (D ≥ 3) with an exact density, so that
// held-out NLL can be measured against the true entropy beyond 2D. Two moons
// and D − 2 standard Gaussian coordinates under a fixed invertible mixing:
//   s = (m₁, m₂, g₁, …, g_{D−2}),  (m₁, m₂) ~ make_moons(n, noise), g ~ N(0, I)
//   x = A·s,   A = R·diag(σ),   σ_j = 2^{j/(D−1)}, j = 0..D−1 (scales 1 to 2)
//   R = G_{D−2} ⋯ G_1·G_0, G_i the rotation by θ_i = π/3 + i·π/7 in the plane
//       of coordinates (i, i+1): the moons leak into every coordinate
//   log p(x) = log p_moons(s₁, s₂) + Σ_{k≥3} log φ(s_k) − Σ_j log σ_j,  s = A⁻¹x = diag(1/σ)·Rᵀ·x
//   entropy  = H(make_moons(n, noise)) + (D − 2)·½·log(2πe) + Σ_j log σ_j
// p_moons is the same equal mixture of n Gaussians as the two-moons set's.
#pragma once

#include <cmath>
#include <string>

#include "eigenflow/data/two_moons.hpp"

namespace eigenflow {

class MixedMoons {
 public:
  MixedMoons(Index n, double noise, Index dim) : dim_(dim), moons_(two_moons_distribution(n, noise)), n_(n), noise_(noise) {
    if (dim < 3) throw ValueError("mixed-moons: dimension must be at least 3, found " + std::to_string(dim));
    rotation_ = Matrix<double>::Identity(dim, dim);
    for (Index i = 0; i + 1 < dim; ++i) {
      const double theta = M_PI / 3 + static_cast<double>(i) * M_PI / 7;
      Matrix<double> givens = Matrix<double>::Identity(dim, dim);
      givens(i, i) = givens(i + 1, i + 1) = std::cos(theta);
      givens(i, i + 1) = -std::sin(theta);
      givens(i + 1, i) = std::sin(theta);
      rotation_ = givens * rotation_;
    }
    scales_.resize(dim);
    for (Index j = 0; j < dim; ++j) scales_(j) = std::exp2(static_cast<double>(j) / static_cast<double>(dim - 1));
  }

  Index dim() const { return dim_; }
  /// A = R·diag(σ).
  Matrix<double> mixing() const { return rotation_ * scales_.asDiagonal(); }
  double log_abs_det_mixing() const { return scales_.array().log().sum(); }

  /// The set itself: make_moons' points (fixed centres plus noise) and fresh Gaussians, mixed.
  Matrix<double> generate(Random& rng) const { return mix(two_moons(n_, noise_, rng), rng); }
  /// Fresh draws from the distribution (moons from the mixture of its n centres).
  Matrix<double> sample(Index count, Random& rng) const { return mix(moons_.sample(count, rng), rng); }

  ColumnVector<double> log_prob(const Matrix<double>& x) const {
    if (x.cols() != dim_)
      throw ShapeError("mixed-moons log density: expected " + std::to_string(dim_) + " columns, found " + std::to_string(x.cols()));
    const Matrix<double> s = (x * rotation_) * scales_.cwiseInverse().asDiagonal();  // rows: (diag(1/σ)·Rᵀ·x)ᵀ
    ColumnVector<double> out = moons_.log_prob(s.leftCols(2));
    out.array() -= 0.5 * s.rightCols(dim_ - 2).array().square().rowwise().sum() +
                   0.5 * static_cast<double>(dim_ - 2) * std::log(2 * M_PI) + log_abs_det_mixing();
    return out;
  }

 private:
  Matrix<double> mix(const Matrix<double>& moons, Random& rng) const {
    Matrix<double> s(moons.rows(), dim_);
    s.leftCols(2) = moons;
    s.rightCols(dim_ - 2) = rng.normal_matrix<double>(moons.rows(), dim_ - 2);
    return s * mixing().transpose();
  }

  Index dim_;
  GaussianMixture2d moons_;
  Index n_;
  double noise_;
  Matrix<double> rotation_;
  Eigen::VectorXd scales_;
};

}  // namespace eigenflow
