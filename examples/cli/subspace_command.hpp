// eigenflow train with the subspace flow (the default beyond 2D): a flow on the k
// least Gaussian directions of the whitened data, a Gaussian on the other D − k,
// k chosen on validation from the ladder 0, 1, 2, 3, 4, 6, 8, … , D
// (include/eigenflow/train/subspace_fit.hpp). One line per candidate k; the default
// beyond 2D adds nsf as one more candidate (train_command.hpp, fit_default_beyond_2d).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <cstdio>
#include <string>

#include "options.hpp"
#include "shards.hpp"

namespace eigenflow::cli {

/// Seconds for the whole search over k when --budget is not given: D = 32 and
/// N = 10,000 rows fit within it on 2 cores (benchmarks/README.md, "Subspace flows").
inline constexpr double subspace_default_budget = 100;

/// --active and --budget: refused unless the flow is the subspace flow and they make sense for D columns.
inline void check_subspace_flags(const Options& o, Index dim) {
  const bool subspace = o.flow.family == "subspace";
  require(subspace || (!o.active && !o.budget),
          "--active and --budget apply to the subspace flow (the default beyond 2D), not to --flow " + o.flow.family);
  if (!subspace) return;
  require(dim >= 3, "the subspace flow is for data beyond 2D (found D = " + std::to_string(dim) +
                        "); 2-D data keep their own defaults (--flow realnvp)");
  if (o.active)
    require(*o.active >= 0 && *o.active <= dim,
            "--active must be in [0, " + std::to_string(dim) + "] (the data's D), found " + std::to_string(*o.active));
  if (o.budget) require(std::isfinite(*o.budget) && *o.budget > 0, "--budget must be a positive number of seconds");
}

/// The flags the subspace flow has no use for, refused rather than ignored.
inline void check_subspace_combination(const Options& o, Index context_dim) {
  require(context_dim == 0, "the subspace flow is unconditional: use --flow nsf for a conditional density");
  require(o.bounded.empty() && !o.dequantize, "the subspace flow takes unbounded continuous data: use --flow nsf with --bounded or --dequantize");
  require(o.start != "gaussian", "the subspace flow always starts at the full-covariance Gaussian: drop --start gaussian");
  require(o.checkpoint_dir.empty(), "the subspace flow's search does not checkpoint: drop --checkpoint (or use --flow nsf)");
  require((o.flow.mix.empty() || o.flow.mix == "none") && !o.flow.actnorm && !o.flow.batch_norm && !o.conditional_base,
          "--mix, --actnorm, --batch-norm and --conditional-base are not options of the subspace flow");
  require(o.optimizer == "adamw", "the subspace flow trains with adamw");
}

/// The search over k (or the fixed --active k), one line per candidate; the chosen line is
/// the caller's. Under mpirun (shards) data-parallel, rank 0 alone reporting progress.
template <class S>
SubspaceFit<S> fit_subspace(const Options& o, const DataSplit& split, const Shards* shards = nullptr) {
  const Index dim = split.train.cols();
  Communicator* const communicator = shards ? shards->communicator : nullptr;
  SubspaceFlowOptions model;
  model.layers = o.flow.resolved_layers();
  model.conditioner = {o.flow.resolved_hidden(), o.flow.depth, o.flow.activation, 0};
  model.spline.bins = o.bins > 0 ? static_cast<Index>(o.bins) : 8;
  model.spline.tail_bound = o.flow.spline.tail_bound;
  SubspaceSearchOptions search;
  search.active = o.active ? static_cast<Index>(*o.active) : -1;
  search.budget_seconds = o.budget ? *o.budget : subspace_default_budget;
  search.optimizer.learning_rate = o.lr;
  search.optimizer.weight_decay = o.weight_decay;
  search.seed = o.seed + 1;
  const Standardization scale = communicator ? fit_standardization(*communicator, split.train) : Standardization::fit(split.train);
  search.training = training_options(o, shards ? shards->training : split.train.rows(),
                                     shards ? shards->validation : split.validation.rows(), scale.scale);
  if (shards) {
    search.training.communicator = communicator;
    search.training.shard_rows = shards->training_rows;
  }
  ProgressPrinter progress;
  if (!communicator || communicator->rank() == 0) search.training.on_epoch = reporting_to(progress, o.on_epoch);
  search.on_candidate = [&progress](const SubspaceCandidate& c) {
    progress.finish();
    std::printf("candidate k=%lld val_nll=%s epochs=%lld seconds=%.1f%s\n", static_cast<long long>(c.active),
                format_nll(c.validation_nll).c_str(), static_cast<long long>(c.epochs), c.seconds,
                c.cut_short ? " (cut short by --budget)" : "");
    std::fflush(stdout);
  };
  std::printf("train flow=subspace layers=%lld hidden=%lld bins=%lld batch=%lld epochs=%lld patience=%lld weight_decay=%g "
              "budget=%gs (N=%lld training rows, D=%lld, k %s)\n",
              static_cast<long long>(model.layers), static_cast<long long>(model.conditioner.hidden),
              static_cast<long long>(model.spline.bins), o.batch, o.epochs, o.patience, o.weight_decay, search.budget_seconds,
              static_cast<long long>(shards ? shards->training : split.train.rows()), static_cast<long long>(dim),
              o.active ? ("fixed at " + std::to_string(*o.active)).c_str() : "searched on validation");
  std::fflush(stdout);

  SubspaceFit<S> fit = fit_subspace_flow<S>(split.train, split.validation, model, search);
  if (fit.budget_exhausted)
    std::printf("budget: the search stopped after %.1f s of its %g s (--budget), before the ladder's end\n", fit.seconds,
                search.budget_seconds);
  return fit;
}

}  // namespace eigenflow::cli
