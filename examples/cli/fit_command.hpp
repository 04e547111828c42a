// eigenflow fit: variational inference. Fits a flow to a built-in unnormalised
// target by reverse KL, saves it, and prints the ELBO, an importance-sampling
// estimate of log Z with its standard error, the ESS and Pareto k̂, and
// KL(q‖p) = log Z − ELBO against the target's known log Z.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "options.hpp"

namespace eigenflow::cli {

/// fit's flags checked: steps, learning rate, clipping, annealing.
inline void check_fit_flags(const Options& o) {
  require(o.steps >= 1, "--steps must be at least 1");
  require(std::isfinite(o.fit_lr) && o.fit_lr > 0, "--lr must be a positive number");
  require(std::isfinite(o.fit_clip) && o.fit_clip >= 0, "--clip must be non-negative");
  require(o.anneal >= -1, "--anneal must be non-negative (0: off)");
}

/// Reverse-KL training of the flow on the target as the flags say (Adam, no weight
/// decay, cosine schedule, annealing over half the steps), progress on stderr.
template <class S>
FitResult fit_with_flags(FlowStack<S>& flow, const Target<S>& target, const Options& o) {
  AdamOptions adam;
  adam.learning_rate = o.fit_lr;
  adam.weight_decay = 0;
  Adam<S> optimizer(flow.parameters(), adam);
  FitOptions options;
  options.steps = o.steps;
  options.batch_size = static_cast<Index>(o.fit_batch);
  options.seed = o.seed + 2;
  options.clip_norm = o.fit_clip;
  options.anneal_steps = o.anneal < 0 ? o.steps / 2 : o.anneal;
  if (o.schedule == "cosine") options.schedule = LearningRateSchedule::cosine(o.fit_lr, o.steps, o.fit_lr / 100);
  options.report_every = std::max<long long>(1, std::min<long long>(100, o.steps / 20));
  ProgressPrinter progress;
  options.on_report = reporting_to(progress, o.on_fit_report);
  const FitResult result = fit_reverse_kl(flow, optimizer, target, options);
  progress.finish();
  return result;
}

template <class S>
int fit_command(const Options& o) {
  require_writable_destination(o.out);
  check_fit_flags(o);
  const TargetInfo& info = target_info(o.target);
  const Target<S> target = make_builtin_target<S>(o.target);

  FlowSpec spec = o.flow;
  spec.sampling = true;
  Random model_rng(o.seed + 1);
  FlowStack<S> flow = build_flow<S>(spec, target.dim(), model_rng);
  // The base N(0, I) is placed over the target's box: x = centre + (half-width / 3)·T(u).
  RowVector<S> centre(2), scale(2);
  centre << S((info.box[0] + info.box[1]) / 2), S((info.box[2] + info.box[3]) / 2);
  scale << S((info.box[1] - info.box[0]) / 6), S((info.box[3] - info.box[2]) / 6);
  flow.set_preprocess(centre, scale);

  const FitResult result = fit_with_flags(flow, target, o);
  save_model(o.out, flow);

  Random check_rng(o.seed + 3);
  const ImportanceEstimate estimate = estimate_log_normalizer(flow, target, static_cast<Index>(o.fit_samples), check_rng);
  std::printf("final elbo=%.4f (se %.4f) log_z=%.4f (se %.4f) ess=%.3f pareto_k=%.2f kl=%.4f (log Z %.4f%s) seconds=%.2f\n",
              estimate.elbo, estimate.elbo_se, estimate.log_normalizer, estimate.log_normalizer_se, estimate.ess_fraction(),
              estimate.pareto_k, info.log_normalizer - estimate.elbo, info.log_normalizer, info.exact ? ", exact" : ", grid",
              result.seconds);
  if (estimate.unreliable())
    std::fprintf(stderr, "warning: the importance weights are heavy-tailed (Pareto k %.2f, ESS %.1f%% of %lld): q covers the target poorly\n",
                 estimate.pareto_k, 100 * estimate.ess_fraction(), static_cast<long long>(estimate.samples));
  const double missing = info.log_normalizer - estimate.log_normalizer;
  if (missing > std::max(0.02, 5 * estimate.log_normalizer_se))
    std::fprintf(stderr, "warning: q misses about %.0f%% of the target's mass (log Z - log Z_hat = %.3f): it has collapsed onto part of the target\n",
                 100 * (1 - std::exp(-missing)), missing);
  return 0;
}

}  // namespace eigenflow::cli
