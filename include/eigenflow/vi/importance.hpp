// How good is a fitted q? Importance sampling with q as the proposal:
//   w_i = p̃(x_i) / q(x_i),  x_i ~ q,
//   Ẑ = mean(w)           — unbiased for Z; log Ẑ is reported, with the delta-method
//                            standard error sd(w) / (mean(w)·√n),
//   ELBO = mean(log w)     — a lower bound on log Z; KL(q‖p) = log Z − E[ELBO],
//   Kish ESS = (Σw)² / Σw²,
//   k̂ = the shape of a generalised Pareto fitted to the largest weights (Vehtari et
//        al., "Pareto smoothed importance sampling", 2015–2024; fit by Zhang & Stephens
//        2009 with PSIS's weak prior): k̂ < 0.5 the estimate is reliable, 0.5–0.7 usable,
//        > 0.7 the weights' variance is effectively infinite.
// What no weight can show: a mode q never visits. Its mass is missing from Ẑ
// without a trace in the ESS or k̂; with a known log Z, log Z − log Ẑ ≫ SE shows it.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "eigenflow/core/random.hpp"
#include "eigenflow/vi/target.hpp"

namespace eigenflow {

struct ImportanceEstimate {
  Index samples = 0;
  double log_normalizer = 0;     ///< log Ẑ
  double log_normalizer_se = 0;  ///< its standard error (delta method)
  double elbo = 0;               ///< mean log w
  double elbo_se = 0;
  double ess = 0;          ///< Kish effective sample size
  double pareto_k = std::numeric_limits<double>::quiet_NaN();  ///< NaN with fewer than 25 samples

  double ess_fraction() const { return ess / static_cast<double>(samples); }
  /// The weights say q covers the target poorly: heavy tails (k̂ > 0.7) or ESS below 10%.
  bool unreliable() const { return pareto_k > 0.7 || ess_fraction() < 0.1; }
};

/// k̂ of the largest M = min(⌈n/5⌉, ⌈3√n⌉) weights, from log weights (any shift).
/// Non-finite log weights must be −∞ (zero weights); NaN if fewer than 5 weights lie in the tail.
inline double pareto_k_hat(std::vector<double> log_weights) {
  const auto n = static_cast<double>(log_weights.size());
  const auto tail = static_cast<std::size_t>(std::min(std::ceil(0.2 * n), std::ceil(3 * std::sqrt(n))));
  if (tail < 5 || tail + 1 > log_weights.size()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(log_weights.begin(), log_weights.end());
  const double top = log_weights.back();
  if (!std::isfinite(top)) return std::numeric_limits<double>::quiet_NaN();
  const double threshold = std::exp(log_weights[log_weights.size() - tail - 1] - top);
  std::vector<double> y(tail);  // exceedances over the threshold, ascending
  for (std::size_t i = 0; i < tail; ++i) y[i] = std::exp(log_weights[log_weights.size() - tail + i] - top) - threshold;
  if (!(y.back() > 0)) return 0;  // a flat tail: every weight equal

  // Zhang & Stephens: a grid of θ = −k/σ up to 1/y_max; each θ's profile k(θ) = mean log(1 − θy)
  // and log-likelihood L(θ) = M·(log(−θ/k) − k − 1); θ̂ = the L-weighted mean of the grid.
  const auto m_count = static_cast<std::size_t>(y.size());
  const std::size_t grid = 30 + static_cast<std::size_t>(std::sqrt(static_cast<double>(m_count)));
  const double quartile = y[static_cast<std::size_t>(std::floor(static_cast<double>(m_count) / 4 + 0.5)) - 1];
  std::vector<double> theta(grid), log_likelihood(grid);
  for (std::size_t j = 0; j < grid; ++j) {
    theta[j] = 1 / y.back() + (1 - std::sqrt(static_cast<double>(grid) / (static_cast<double>(j) + 0.5))) / (3 * quartile);
    double k = 0;
    for (double v : y) k += std::log1p(-theta[j] * v);
    k /= static_cast<double>(m_count);
    log_likelihood[j] = static_cast<double>(m_count) * (std::log(-theta[j] / k) - k - 1);
  }
  double theta_hat = 0, norm = 0;
  const double best = *std::max_element(log_likelihood.begin(), log_likelihood.end());
  for (std::size_t j = 0; j < grid; ++j) {
    const double w = std::exp(log_likelihood[j] - best);
    theta_hat += w * theta[j];
    norm += w;
  }
  theta_hat /= norm;
  double k = 0;
  for (double v : y) k += std::log1p(-theta_hat * v);
  k /= static_cast<double>(m_count);
  // k̂ = mean log(1 − θ̂y) (> 0 for heavy tails); PSIS's prior pulls it towards 0.5 with weight 10.
  return (static_cast<double>(m_count) * k + 10 * 0.5) / (static_cast<double>(m_count) + 10);
}

/// Every figure above from log weights log w_i = log p̃(x_i) − log q(x_i).
inline ImportanceEstimate importance_diagnostics(const std::vector<double>& log_weights) {
  if (log_weights.empty()) throw ValueError("importance_diagnostics: no samples");
  ImportanceEstimate out;
  out.samples = static_cast<Index>(log_weights.size());
  const double n = static_cast<double>(log_weights.size());
  const double top = *std::max_element(log_weights.begin(), log_weights.end());
  if (!std::isfinite(top)) throw NumericalError("importance_diagnostics: every weight is zero or a weight is infinite");
  double sum = 0, sum_sq = 0, log_sum = 0, log_sum_sq = 0;
  for (double lw : log_weights) {
    const double w = std::exp(lw - top);  // weights scaled by e^-top: ratios are exact
    sum += w;
    sum_sq += w * w;
    log_sum += lw;
    log_sum_sq += lw * lw;
  }
  out.log_normalizer = top + std::log(sum / n);
  const double mean_w = sum / n, variance_w = std::max(0.0, sum_sq / n - mean_w * mean_w) * n / std::max(1.0, n - 1);
  out.log_normalizer_se = std::sqrt(variance_w / n) / mean_w;
  out.elbo = log_sum / n;
  const double variance_log = std::max(0.0, log_sum_sq / n - out.elbo * out.elbo) * n / std::max(1.0, n - 1);
  out.elbo_se = std::sqrt(variance_log / n);
  out.ess = sum * sum / sum_sq;
  out.pareto_k = pareto_k_hat(log_weights);
  return out;
}

/// Draws n points from the flow and weighs them against the target.
template <class Flow, class S>
ImportanceEstimate estimate_log_normalizer(const Flow& flow, const Target<S>& target, Index n, Random& rng) {
  if (n < 2) throw ValueError("estimate_log_normalizer: needs at least 2 samples, found " + std::to_string(n));
  if (flow.dim() != target.dim())
    throw ShapeError("estimate_log_normalizer: the flow has dimension " + std::to_string(flow.dim()) + ", the target '" +
                     target.name() + "' " + std::to_string(target.dim()));
  const auto drawn = flow.sample_and_log_prob(n, rng);
  const ColumnVector<S> energy = target.energy(drawn.points);
  std::vector<double> log_weights(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const double u = static_cast<double>(energy(i)), log_q = static_cast<double>(drawn.log_prob(i));
    if (std::isnan(u) || u == -std::numeric_limits<double>::infinity())
      throw NumericalError("estimate_log_normalizer: target '" + target.name() + "' has energy " + std::to_string(u) +
                           " at a sample");
    log_weights[static_cast<std::size_t>(i)] = -u - log_q;  // U = +∞: weight 0
  }
  return importance_diagnostics(log_weights);
}

}  // namespace eigenflow
