// Independent non-Gaussian sources, the structure of mixed-sources (data/mixed_set.hpp):
// k coordinates, each drawn on its own from one of four marginals, in turn (j mod 4):
//   0 bimodal   ½·N(−1, ½²) + ½·N(1, ½²)
//   1 Laplace   p(s) = e^{−|s|/b} / (2b),  b = 1/√2 (unit variance)
//   2 Gumbel    p(s) = exp(−s − e^{−s})    (skewed: a long right tail)
//   3 trimodal  ⅓·[N(−2, 0.35²) + N(0, 0.35²) + N(2, 0.35²)]
//   log p(t) = Σ_j log p_{j mod 4}(t_j)
// Couplings are the wrong tool for independent marginals (issue 43): this is the set that
// tells whether an elementwise map finds them.
#pragma once

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>

#include "eigenflow/core/error.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/core/types.hpp"

namespace eigenflow {

class IndependentSources {
 public:
  static constexpr Index kinds = 4;

  /// k sources; generate() draws n rows.
  IndependentSources(Index k, Index n) : k_(k), n_(n) {
    if (k < 1) throw ValueError("IndependentSources: at least one source, found " + std::to_string(k));
  }

  Index dim() const { return k_; }
  Matrix<double> generate(Random& rng) const { return sample(n_, rng); }

  Matrix<double> sample(Index count, Random& rng) const {
    Matrix<double> out(count, k_);
    for (Index i = 0; i < count; ++i)
      for (Index j = 0; j < k_; ++j) out(i, j) = draw(j % kinds, rng);
    return out;
  }

  ColumnVector<double> log_prob(const Matrix<double>& t) const {
    if (t.cols() != k_)
      throw ShapeError("IndependentSources.log_prob: expected " + std::to_string(k_) + " columns, found " + std::to_string(t.cols()));
    ColumnVector<double> out = ColumnVector<double>::Zero(t.rows());
    for (Index i = 0; i < t.rows(); ++i)
      for (Index j = 0; j < k_; ++j) out(i) += marginal_log_prob(j % kinds, t(i, j));
    return out;
  }

  /// log p of marginal `kind` (0 bimodal, 1 Laplace, 2 Gumbel, 3 trimodal) at s.
  static double marginal_log_prob(Index kind, double s) {
    switch (kind) {
      case 0: return log_equal_normals(s, {-1.0, 1.0}, 0.5);
      case 1: return -std::log(2 * laplace_scale) - std::abs(s) / laplace_scale;
      case 2: return -s - std::exp(-s);
      default: return log_equal_normals(s, {-2.0, 0.0, 2.0}, 0.35);
    }
  }

 private:
  static constexpr double laplace_scale = 0.70710678118654752440;  // 1/√2

  /// log of the equal mixture of N(m, sd²) over the means, by log-sum-exp.
  static double log_equal_normals(double s, std::initializer_list<double> means, double sd) {
    double largest = -HUGE_VAL;
    for (double m : means) largest = std::max(largest, -0.5 * (s - m) * (s - m) / (sd * sd));
    double total = 0;
    for (double m : means) total += std::exp(-0.5 * (s - m) * (s - m) / (sd * sd) - largest);
    return largest + std::log(total / static_cast<double>(means.size())) - std::log(sd * std::sqrt(2 * M_PI));
  }

  static double draw(Index kind, Random& rng) {
    switch (kind) {
      case 0: return (rng.uniform() < 0.5 ? -1.0 : 1.0) + 0.5 * rng.normal();
      case 1: {  // the difference of two exponentials of mean b
        const double a = -std::log1p(-rng.uniform()), b = -std::log1p(-rng.uniform());
        return laplace_scale * (a - b);
      }
      case 2: {  // −log E, E ~ Exp(1), E > 0
        double e = 0;
        while (e == 0) e = -std::log1p(-rng.uniform());
        return -std::log(e);
      }
      default: return 2.0 * static_cast<double>(std::min<Index>(static_cast<Index>(rng.uniform() * 3), 2) - 1) + 0.35 * rng.normal();
    }
  }

  Index k_;
  Index n_;
};

}  // namespace eigenflow
