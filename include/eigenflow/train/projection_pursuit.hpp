// Projection pursuit: the directions along which whitened rows are least
// Gaussian, found one at a time (Friedman & Tukey 1974; Huber 1985), to start a
// subspace flow's rotation where the structure is.
// The index of a unit direction w is the squared 1-Wasserstein-2 distance between
// the rows' projections y = Y·w and N(0, 1), in its sorted-sample form
//   I(w) = (1/m) Σ_i (y_(i) − q_i)²,   q_i = Φ⁻¹((i − ½)/m),
//   ∇I(w) = (2/m) Σ_i (y_(i) − q_i)·Y_(i)      (the sort order held fixed),
// maximised by projected gradient ascent on the unit sphere within the orthogonal
// complement of the directions already found (deflation), from a few random starts
// and from the two best eigenvectors of E[|y|²·y·yᵀ] (FOBI, Cardoso 1989: for
// whitened rows each independent source is an eigenvector, a Gaussian one with
// eigenvalue D + 2). Random starts alone missed a weak second direction among 15
// Gaussian ones (mixed-moons D = 16). For Gaussian rows I is O(log m / m) everywhere.
#pragma once

#include <cmath>

#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/compiled.hpp"
#include "eigenflow/core/random.hpp"

namespace eigenflow {

struct ProjectionPursuitOptions {
  Index max_rows = 4000;  ///< rows the index is computed on (a random subset of larger sets)
  Index restarts = 4;     ///< random starts per direction; the best end is kept
  Index iterations = 60;  ///< gradient steps per start
};

namespace detail {

/// Φ⁻¹(p) for 0 < p < 1: Acklam's rational approximation (relative error 1.2e-9),
/// refined by one Halley step on Φ(x) − p = ½·erfc(−x/√2) − p to double precision.
inline double normal_quantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
  const double low = 0.02425;
  double x = 0;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

}  // namespace detail

/// Whitened rows (N x D, about zero mean and unit covariance) → an orthogonal D x D
/// matrix whose rows are directions in decreasing order of non-Gaussianity, and each
/// direction's index I (the last direction is what the others leave).
struct PursuitDirections {
  Matrix<double> rotation;
  Eigen::VectorXd index;
};

PursuitDirections projection_pursuit(const Matrix<double>& whitened, Random& rng, const ProjectionPursuitOptions& options = {});

}  // namespace eigenflow

#ifndef EIGENFLOW_PREBUILT
#include "eigenflow/train/projection_pursuit_impl.hpp"
#endif
