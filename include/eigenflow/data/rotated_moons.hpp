// Rotated moons: a conditional data set with an exact conditional density, for
// p(x | c). The context is an angle c; x is a two-moons point (make_moons'
// M = 1000 centres, noise σ) turned by c about the moons' centre of symmetry
// m̄ = (½, ¼):
//   x = m̄ + R(c)(m − m̄) + ε,   m uniform over the M centres, ε ~ N(0, σ² I)
//   p(x | c) = p_moons(m̄ + R(−c)(x − m̄))         (a rotation keeps volume)
// so H(x | c) is the same for every c. The moons are symmetric under a half
// turn about m̄, so c and c + π give one density; generated contexts are
// c ~ U[0, π). Rows are [x1, x2, c]: the last column is the context.
#pragma once

#include <cmath>

#include "eigenflow/data/two_moons.hpp"

namespace eigenflow {

class RotatedMoons {
 public:
  static constexpr Index centres = 1000;

  explicit RotatedMoons(double noise) : noise_(noise), moons_(two_moons_distribution(centres, noise)) {}

  double noise() const { return noise_; }

  /// n rows [x1, x2, c] with c ~ U[0, π).
  Matrix<double> generate(Index n, Random& rng) const {
    ColumnVector<double> angles(n);
    for (Index i = 0; i < n; ++i) angles(i) = M_PI * rng.uniform();
    Matrix<double> out(n, 3);
    out.leftCols(2) = sample(angles, rng);
    out.col(2) = angles;
    return out;
  }

  /// One x per angle: x ~ p(x | c_i).
  Matrix<double> sample(const ColumnVector<double>& angles, Random& rng) const {
    Matrix<double> moon = moons_.sample(angles.rows(), rng);
    for (Index i = 0; i < moon.rows(); ++i) moon.row(i) = rotate(moon.row(i), angles(i));
    return moon;
  }

  /// log p(x_i | c_i) for points x (N x 2) and angles c (N).
  ColumnVector<double> log_prob(const Matrix<double>& x, const ColumnVector<double>& angles) const {
    detail::require_columns("RotatedMoons.log_prob", x, 2);
    if (angles.rows() != x.rows())
      throw ShapeError("RotatedMoons.log_prob: expected one angle per point (" + std::to_string(x.rows()) + "), found " +
                       std::to_string(angles.rows()));
    Matrix<double> unrotated(x.rows(), 2);
    for (Index i = 0; i < x.rows(); ++i) unrotated.row(i) = rotate(x.row(i), -angles(i));
    return moons_.log_prob(unrotated);
  }
  /// The same for rows [x1, x2, c] as generate() writes them.
  ColumnVector<double> log_prob(const Matrix<double>& rows) const {
    detail::require_columns("RotatedMoons.log_prob", rows, 3);
    return log_prob(rows.leftCols(2), rows.col(2));
  }

  /// H(x | c) = H(moons), by Monte Carlo over `draws` points (standard error ≈ sd(log p)/√draws).
  double conditional_entropy(Index draws, Random& rng) const { return -moons_.log_prob(moons_.sample(draws, rng)).mean(); }

 private:
  // m̄ + R(a)(p − m̄)
  static RowVector<double> rotate(const RowVector<double>& p, double a) {
    const double u = p(0) - 0.5, v = p(1) - 0.25, c = std::cos(a), s = std::sin(a);
    RowVector<double> out(2);
    out << 0.5 + c * u - s * v, 0.25 + s * u + c * v;
    return out;
  }

  double noise_;
  GaussianMixture moons_;
};

}  // namespace eigenflow
