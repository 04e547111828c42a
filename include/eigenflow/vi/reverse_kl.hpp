// Variational inference by reverse KL (Rezende & Mohamed 2015, section 4):
// fit the flow's density q to an unnormalised target p̃ = exp(−U) by
// minimising
//   KL(q‖p) − log Z = E_q[log q(x) − log p̃(x)] = −ELBO,
// with reparameterised samples x = T(u), u ~ base, so that
//   log q(x) = log p_base(u) − log|det ∂T/∂u|,
//   loss(θ) = mean_u [ log p_base(u) − log|det ∂T_θ/∂u| + β·U(T_θ(u)) ].
// T is the stack's sampling direction (inverse), recorded on a tape in one
// pass: no inverse solves, no density evaluation of the samples afterwards.
// The ELBO is a lower bound on log Z; KL(q‖p) = log Z − ELBO.
//
// Annealing (Rezende & Mohamed's β_t): β_t = min(1, β₀ + (1 − β₀)·t/anneal_steps)
// softens the target early on, so q spreads over it before the energy's
// walls take hold. The reported ELBO is always β = 1's.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "eigenflow/core/random.hpp"
#include "eigenflow/optim/clipping.hpp"
#include "eigenflow/optim/optimizer.hpp"
#include "eigenflow/optim/schedule.hpp"
#include "eigenflow/vi/target.hpp"

namespace eigenflow {

/// What the loop reports every report_every steps.
struct FitReport {
  long long step = 0;   ///< 1-based
  long long steps = 0;  ///< planned
  double elbo = 0;      ///< mean ELBO (β = 1) over the steps since the last report
  double beta = 1;      ///< the annealing weight at this step
  double seconds = 0;
  double steps_per_second = 0;
  double eta_seconds = 0;
};

struct FitOptions {
  long long steps = 10000;
  Index batch_size = 256;  ///< base samples per step
  std::uint64_t seed = 0;  ///< the base samples
  double clip_norm = 0;    ///< gradient-norm clipping; 0: off
  std::optional<LearningRateSchedule> schedule;  ///< per step
  long long anneal_steps = 0;  ///< steps over which β rises to 1; 0: β = 1 throughout
  double anneal_start = 0.01;  ///< β₀
  long long report_every = 100;
  std::function<bool(const FitReport&)> on_report;  ///< return false to stop
};

struct FitResult {
  std::vector<FitReport> history;
  long long steps = 0;
  double seconds = 0;
};

namespace detail {
template <class Flow>
void require_fixed_base(const char* where, Flow& flow) {
  if (!flow.base().parameters().empty())
    throw ValueError(std::string(where) + ": the base distribution has trainable parameters, which reparameterised samples " +
                     "cannot differentiate; use a fixed base (standard normal) and let an affine layer learn location and scale");
}

inline double annealing_weight(const FitOptions& options, long long step) {
  if (options.anneal_steps <= 0) return 1;
  return std::min(1.0, options.anneal_start + (1 - options.anneal_start) * static_cast<double>(step) /
                                                 static_cast<double>(options.anneal_steps));
}

/// The row of x holding the first non-finite energy, for error messages.
template <class S>
std::string first_non_finite_point(const Matrix<S>& x, const Matrix<S>& energy) {
  for (Index i = 0; i < energy.rows(); ++i)
    if (!std::isfinite(energy(i, 0))) {
      std::string point;
      for (Index j = 0; j < x.cols(); ++j) point += (j ? ", " : "") + std::to_string(static_cast<double>(x(i, j)));
      return "energy " + std::to_string(static_cast<double>(energy(i, 0))) + " at the point (" + point + ")";
    }
  return "";
}

/// The graph of one step: x = T(u) with its log-det, U(x), log p_base(u), and the loss.
template <class S>
struct ReverseKlGraph {
  TapedTransformed<S> drawn;
  Var<S> energy, loss;
  ColumnVector<S> log_base;
};

template <class Flow, class S>
ReverseKlGraph<S> record_reverse_kl(Flow& flow, Tape<S>& tape, const Target<S>& target, const Matrix<S>& u, S beta) {
  ReverseKlGraph<S> graph;
  graph.drawn = flow.inverse(tape, tape.constant(u));
  graph.log_base = flow.base().log_prob(u);
  graph.energy = target.energy(tape, graph.drawn.points);
  graph.loss = mean(add(sub(tape.constant(Matrix<S>(graph.log_base)), graph.drawn.log_det), scale(graph.energy, beta)));
  return graph;
}
}  // namespace detail

/// The loss on a tape for given base points u (common random numbers):
/// mean[log p_base(u) − log|det ∂T/∂u| + β·U(T(u))] (1 x 1). Its value at β = 1 is −ELBO.
template <class Flow, class S>
Var<S> reverse_kl_loss(Flow& flow, Tape<S>& tape, const Target<S>& target, const Matrix<S>& base_points, S beta = S(1)) {
  return detail::record_reverse_kl(flow, tape, target, base_points, beta).loss;
}

/// The same loss without a tape.
template <class Flow, class S>
double reverse_kl_loss(const Flow& flow, const Target<S>& target, const Matrix<S>& base_points, S beta = S(1)) {
  const Transformed<S> drawn = flow.inverse(base_points);
  const ColumnVector<S> log_q = flow.base().log_prob(base_points) - drawn.log_det;
  return (log_q.template cast<double>() + static_cast<double>(beta) * target.energy(drawn.points).template cast<double>()).mean();
}

/// Fits flow's q to target by reverse KL. A non-finite loss or gradient stops
/// the fit with a NumericalError that names the offending point; the
/// parameters are then those of the last good step (the update that would
/// have used the bad gradient is never applied).
template <class Flow, class S>
FitResult fit_reverse_kl(Flow& flow, Optimizer<S>& optimizer, const Target<S>& target, const FitOptions& options) {
  if (options.steps < 1) throw ValueError("fit: steps must be at least 1, found " + std::to_string(options.steps));
  if (options.batch_size < 1) throw ValueError("fit: batch size must be at least 1, found " + std::to_string(options.batch_size));
  if (!(options.clip_norm >= 0)) throw ValueError("fit: clip norm must be non-negative");
  if (options.anneal_steps < 0) throw ValueError("fit: anneal steps must be non-negative");
  if (!(options.anneal_start > 0 && options.anneal_start <= 1))
    throw ValueError("fit: the annealing start β₀ must be in (0, 1], found " + std::to_string(options.anneal_start));
  if (options.report_every < 1) throw ValueError("fit: report_every must be at least 1");
  if (flow.dim() != target.dim())
    throw ShapeError("fit: the flow has dimension " + std::to_string(flow.dim()) + ", the target '" + target.name() + "' " +
                     std::to_string(target.dim()));
  detail::require_fixed_base("fit", flow);

  const ParameterList<S> parameters = flow.parameters();
  Random rng(options.seed);
  Tape<S> tape;
  FitResult result;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  double elbo_sum = 0;
  long long elbo_count = 0;

  for (long long step = 1; step <= options.steps; ++step) {
    const S beta = static_cast<S>(detail::annealing_weight(options, step - 1));
    const Matrix<S> u = flow.base().sample(options.batch_size, rng);
    if (options.schedule) optimizer.set_learning_rate(options.schedule->at(step - 1));
    optimizer.zero_grad();
    tape.clear();
    const auto [drawn, energy, loss, log_base] = detail::record_reverse_kl(flow, tape, target, u, beta);
    const double value = static_cast<double>(loss.value()(0, 0));
    if (!std::isfinite(value))
      throw NumericalError("fit stopped at step " + std::to_string(step) + ": the loss is " + std::to_string(value) +
                           (std::isfinite(energy.value().sum()) ? std::string(" (the flow's log-det overflowed)")
                                                                : ", from target '" + target.name() + "': " +
                                                                      detail::first_non_finite_point(drawn.points.value(), energy.value())) +
                           "; the parameters of step " + std::to_string(step - 1) + " were kept");
    tape.backward(loss);
    if (!gradients_finite(parameters))
      throw NumericalError("fit stopped at step " + std::to_string(step) + ": non-finite gradient; the parameters of step " +
                           std::to_string(step - 1) + " were kept (try a lower learning rate or gradient clipping)");
    if (options.clip_norm > 0) clip_grad_norm(parameters, options.clip_norm);
    optimizer.step();
    result.steps = step;
    // ELBO at β = 1 from the same samples: −mean(log q + U).
    elbo_sum -= (log_base - drawn.log_det.value()).template cast<double>().mean() +
                energy.value().template cast<double>().mean();
    ++elbo_count;

    if (step % options.report_every == 0 || step == options.steps) {
      FitReport report;
      report.step = step;
      report.steps = options.steps;
      report.elbo = elbo_sum / static_cast<double>(elbo_count);
      report.beta = static_cast<double>(beta);
      report.seconds = elapsed();
      report.steps_per_second = static_cast<double>(step) / std::max(report.seconds, 1e-9);
      report.eta_seconds = static_cast<double>(options.steps - step) / std::max(report.steps_per_second, 1e-9);
      elbo_sum = 0;
      elbo_count = 0;
      result.history.push_back(report);
      if (options.on_report && !options.on_report(report)) break;
    }
  }
  result.seconds = elapsed();
  return result;
}

}  // namespace eigenflow
