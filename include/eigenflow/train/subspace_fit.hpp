// The subspace flow as a model of tabular data, and the search for its active
// dimension k (non-Gaussian component analysis, flows/subspace.hpp):
//   x → standardise (fixed) → W, the ZCA whitening of the training rows
//     → R, a learned LU map → (u, g) → (f(u), g) → N(0, I)
//   log p(x) = log|det diag(1/σ)| + log|det W| + log|det R| + log p_f(u) + log N(g; 0, I)
// The inner flow f on the k coordinates u is L blocks of [LU map (from the second
// block on), rational-quadratic spline coupling on alternating halves] followed by an
// elementwise spline; for k = 1 the elementwise spline alone. Every inner layer starts
// at the identity or a rotation, so each candidate starts as the rows' full-covariance
// Gaussian (k = 0 is exactly that Gaussian) and, by the trainer's start rule, never ends
// worse than it on validation.
// The search fits k on a geometric ladder 0, 1, 2, 3, 4, 6, 8, 12, … , D, keeps the
// best on validation, and stops once two candidates in a row are worse than the best
// so far, or when a time budget runs out.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eigenflow/core/compiled.hpp"
#include "eigenflow/data/preprocess.hpp"
#include "eigenflow/flows/flow_stack.hpp"
#include "eigenflow/flows/linear/lu_linear.hpp"
#include "eigenflow/flows/spline/elementwise_spline.hpp"
#include "eigenflow/flows/spline/spline_coupling.hpp"
#include "eigenflow/flows/subspace.hpp"
#include "eigenflow/optim/adam.hpp"
#include "eigenflow/train/communicator.hpp"
#include "eigenflow/train/data_parallel.hpp"
#include "eigenflow/train/pooled_statistics.hpp"
#include "eigenflow/train/projection_pursuit.hpp"
#include "eigenflow/train/trainer.hpp"

namespace eigenflow {

/// How R starts: the identity (the whitened coordinates' own axes), a random rotation,
/// or the projection-pursuit directions (the least Gaussian first: train/projection_pursuit.hpp).
enum class SubspaceStart { identity, random_rotation, pursuit };

/// The model around the subspace layer, given k.
struct SubspaceFlowOptions {
  Index layers = 4;                                 ///< L spline couplings of the inner flow (k ≥ 2)
  ConditionerShape conditioner{64, 2, Activation::relu};
  SplineShape spline{8, 5.0};
  SubspaceStart start = SubspaceStart::pursuit;
  ProjectionPursuitOptions pursuit;
  /// R's start when given (D x D, invertible); with start = pursuit, fit_subspace_flow
  /// computes the directions once and passes them here for every candidate.
  Matrix<double> rotation;
};

/// One fitted k.
struct SubspaceCandidate {
  Index active = 0;
  double validation_nll = std::numeric_limits<double>::quiet_NaN();  ///< training NLL without validation rows
  double seconds = 0;
  Index epochs = 0;        ///< epochs trained (0 for k = 0, which has nothing to learn)
  bool cut_short = false;  ///< the budget stopped its training
};

/// The search over k and the training of each candidate.
struct SubspaceSearchOptions {
  Index active = -1;          ///< a fixed k in [0, D]; negative: search the ladder
  double budget_seconds = 0;  ///< the whole search's wall time; 0: unbounded
  AdamOptions optimizer = [] {
    AdamOptions o;
    o.learning_rate = 3e-3;
    o.weight_decay = 1e-4;
    return o;
  }();
  /// epochs, batch size, patience, threads, seed, on_epoch (progress; false stops the
  /// candidate), ... of each candidate's training; no checkpoints or resume. With a
  /// communicator the search is data-parallel: the rows fit_subspace_flow is given are
  /// this rank's shards (shard_rows naming the training rows' global indices, as train
  /// takes them), every statistic is pooled over the ranks, and rank 0's clock decides
  /// the budget, so every rank trains the same candidates to the same model.
  TrainOptions training = [] {
    TrainOptions t;
    t.epochs = 200;
    t.batch_size = 256;
    t.patience = 15;
    return t;
  }();
  std::uint64_t seed = 0;  ///< the inner layers' initial weights (candidate k draws from seed + k)
  /// Called after each candidate (to print a line per k).
  std::function<void(const SubspaceCandidate&)> on_candidate;
};

template <class S>
struct SubspaceFit {
  FlowStack<S> flow;  ///< the best candidate's model
  Index active = 0;   ///< its k
  std::vector<SubspaceCandidate> candidates;
  bool budget_exhausted = false;  ///< the budget ended the search before the ladder did
  double seconds = 0;             ///< the whole search's wall time, projection pursuit included
};

/// The ladder of candidate k: 0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, … (each step ×1.5
/// or ×4/3), then D itself.
inline std::vector<Index> subspace_ladder(Index dim) {
  detail::require_positive_dim("subspace_ladder", dim);
  std::vector<Index> ladder{0, 1, 2, 3};
  for (Index k = 4; k < dim; k = (k % 3 == 0) ? k * 4 / 3 : k * 3 / 2) ladder.push_back(k);
  while (!ladder.empty() && ladder.back() >= dim) ladder.pop_back();
  ladder.push_back(dim);
  return ladder;
}

namespace detail {
/// R's start at the projection-pursuit directions of the rows after subspace_flow's first
/// maps: standardised, then whitened by W.
Matrix<double> pursuit_rotation(const Matrix<double>& standardized, const Matrix<double>& whitening, Random& rng,
                                const ProjectionPursuitOptions& options);

/// fit_subspace_flow's start of R, found once for every candidate: the projection-pursuit
/// directions of the rows projection_pursuit indexes — all N training rows, or its random
/// subset of max_rows, drawn from rng as it draws one — standardised and whitened by their
/// own moments. Over several ranks (global_rows[i]: the global index of this rank's row i)
/// every rank gathers those rows in that order, so every rank and one process compute the
/// directions from the same bits: the search picks the best of several restarts, and a
/// rounding difference in its input can change which (tests/mpi).
Matrix<double> pursuit_start(const Matrix<double>& training_rows, Communicator* communicator,
                             const std::vector<Index>& global_rows, Index total_rows, Random& rng,
                             const ProjectionPursuitOptions& options);
}  // namespace detail

/// The untrained model of k active coordinates for these training rows (raw units):
/// it starts as their full-covariance Gaussian.
template <class S>
FlowStack<S> subspace_flow(const Matrix<double>& train, Index active, const SubspaceFlowOptions& options, Random& rng,
                           Communicator* communicator = nullptr) {
  const Index dim = train.cols();
  if (active < 0 || active > dim)
    throw ValueError("subspace_flow: the active dimension must be in [0, " + std::to_string(dim) + "], found " +
                     std::to_string(active));
  if (options.layers < 1) throw ValueError("subspace_flow: layers must be at least 1, found " + std::to_string(options.layers));
  // (with a communicator: train is this rank's share, and both maps are fitted to every rank's rows)
  const Standardization standardization =  // refuses NaN, Inf and constant columns
      communicator ? fit_standardization(*communicator, train) : Standardization::fit(train);
  FlowStack<S> flow(dim);
  flow.set_preprocess(standardization.shift.cast<S>(), standardization.scale.cast<S>());
  const Matrix<double> standardized = standardization.apply(train);
  const LuLinear<S> whitening = communicator ? zca_whitening_of_covariance<S>(pooled_covariance(*communicator, standardized))
                                             : zca_whitening<S>(standardized);
  flow.append(whitening);
  if (options.rotation.size() > 0) {
    if (options.rotation.rows() != dim || options.rotation.cols() != dim)
      throw ShapeError("subspace_flow: the rotation must be " + detail::shape_string(dim, dim) + ", found " +
                       detail::shape_string(options.rotation.rows(), options.rotation.cols()));
    flow.append(LuLinear<S>::factorize(options.rotation));
  } else if (options.start == SubspaceStart::pursuit) {
    if (communicator)
      throw ValueError("subspace_flow: over several ranks give the pursuit directions as options.rotation (fit_subspace_flow does)");
    flow.append(LuLinear<S>::factorize(detail::pursuit_rotation(standardized, whitening.weight().template cast<double>(), rng, options.pursuit)));
  } else {
    flow.append(options.start == SubspaceStart::identity ? LuLinear<S>::factorize(Matrix<double>::Identity(dim, dim))
                                                          : LuLinear<S>::random(dim, rng));
  }
  Subspace<S> subspace(dim, active);
  if (active >= 2) {
    for (Index k = 0; k < options.layers; ++k) {
      if (k > 0) subspace.append(std::make_unique<LuLinear<S>>(LuLinear<S>::random(active, rng)));
      subspace.append(std::make_unique<SplineCoupling<S>>(
          SplineCoupling<S>::make(alternating_mask<S>(active, static_cast<int>(k % 2)), options.conditioner, options.spline, rng, true)));
    }
  }
  if (active >= 1) subspace.append(std::make_unique<ElementwiseSpline<S>>(active, options.spline));
  flow.append(std::move(subspace));
  return flow;
}

/// Fits the subspace flow on train, choosing k on validation (or fitting the given
/// k); every NLL is in nats per row.
template <class S>
SubspaceFit<S> fit_subspace_flow(const Matrix<double>& training_rows, const Matrix<double>& validation,
                                 const SubspaceFlowOptions& model = {}, const SubspaceSearchOptions& search = {}) {
  const Index dim = training_rows.cols();
  Communicator* const group = search.training.communicator;  // null: one process
  auto check_inputs = [&] {
    detail::require_positive_dim("fit_subspace_flow: the training rows' columns", dim);
    if (validation.rows() > 0) {
      detail::require_columns("fit_subspace_flow: validation rows", validation, dim);
      detail::require_finite("fit_subspace_flow: validation rows", validation);
    }
    if (search.active > dim)
      throw ValueError("fit_subspace_flow: the active dimension must be in [0, " + std::to_string(dim) + "], found " +
                       std::to_string(search.active));
    if (!(search.budget_seconds >= 0 && std::isfinite(search.budget_seconds)))
      throw ValueError("fit_subspace_flow: the budget must be a non-negative number of seconds, found " +
                       std::to_string(search.budget_seconds));
    if (search.training.on_checkpoint || search.training.resume)
      throw ValueError("fit_subspace_flow: the search does not checkpoint or resume its candidates; leave them unset");
  };
  detail::check_on_every_rank(group, "fit_subspace_flow", check_inputs);  // one rank's bad rows end the search on every rank
  // Rows of every rank: the training rows' global indices (as train takes them) and the counts.
  std::vector<Index> global_rows = search.training.shard_rows;
  Index training_total = training_rows.rows(), validation_total = validation.rows();
  if (group) {
    const detail::RankBlock block = detail::RankBlock::of(*group, training_rows.rows());
    training_total = block.global_rows;
    if (global_rows.empty())
      for (Index i = 0; i < training_rows.rows(); ++i) global_rows.push_back(block.first + i);
    double validation_count = static_cast<double>(validation.rows());
    group->sum(&validation_count, 1);
    validation_total = static_cast<Index>(validation_count);
  }
  if (search.active < 0 && validation_total == 0)
    throw ValueError("fit_subspace_flow: choosing k needs validation rows (or give a fixed k)");

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const bool budgeted = search.budget_seconds > 0;
  // Over the budget (rank 0's clock decides for every rank).
  auto over_budget = [&] {
    double over = budgeted && elapsed() >= search.budget_seconds ? 1.0 : 0.0;
    if (group) over = group->gather({over})[0];
    return over != 0;
  };
  const Matrix<S> train_rows = training_rows.cast<S>(), validation_rows = validation.cast<S>();
  const std::vector<Index> ladder = search.active >= 0 ? std::vector<Index>{search.active} : subspace_ladder(dim);

  SubspaceFlowOptions shared = model;  // the pursuit directions, found once for every candidate
  if (model.start == SubspaceStart::pursuit && model.rotation.size() == 0 && ladder.back() > 0) {
    Random rng(search.seed);
    shared.rotation = detail::pursuit_start(training_rows, group, global_rows, training_total, rng, model.pursuit);
  }
  // −(1/N) Σ log p over every rank's validation rows (its training rows when there are none)
  auto candidate_nll = [&](const FlowStack<S>& flow) {
    const Matrix<S>& rows = validation_total > 0 ? validation_rows : train_rows;
    if (!group) return mean_negative_log_likelihood(flow, rows);
    double total = rows.rows() > 0 ? detail::total_nll(flow, rows, static_cast<const Matrix<S>*>(nullptr), 16384) : 0.0;
    group->sum(&total, 1);
    return total / static_cast<double>(validation_total > 0 ? validation_total : training_total);
  };
  std::optional<SubspaceFit<S>> best;
  std::vector<SubspaceCandidate> candidates;
  bool exhausted = false;
  int worse_in_a_row = 0;
  for (const Index k : ladder) {
    if (!candidates.empty() && over_budget()) {
      exhausted = true;
      break;
    }
    const double began = elapsed();
    Random rng(search.seed + static_cast<std::uint64_t>(k));
    FlowStack<S> flow = subspace_flow<S>(training_rows, k, shared, rng, group);
    SubspaceCandidate candidate;
    candidate.active = k;
    if (k > 0) {  // k = 0 starts at its maximum-likelihood fit: the Gaussian of the rows
      AdamW<S> optimizer(flow.parameters(), search.optimizer);
      TrainOptions options = search.training;
      options.on_epoch = [&](const EpochReport& report) {  // (train takes rank 0's answer)
        candidate.cut_short = budgeted && elapsed() >= search.budget_seconds;
        const bool go_on = search.training.on_epoch ? search.training.on_epoch(report) : true;
        return go_on && !candidate.cut_short;
      };
      const TrainResult result = validation_total > 0 ? train(flow, optimizer, train_rows, validation_rows, options)
                                                      : train(flow, optimizer, train_rows, Matrix<S>(0, dim), options);
      candidate.epochs = result.history.empty() ? 0 : result.history.back().epoch;
      if (group) candidate.cut_short = group->gather({candidate.cut_short ? 1.0 : 0.0})[0] != 0;  // rank 0's
    }
    candidate.validation_nll = candidate_nll(flow);
    candidate.seconds = elapsed() - began;
    candidates.push_back(candidate);
    if (search.on_candidate) search.on_candidate(candidate);
    if (!best || candidate.validation_nll < best->candidates.front().validation_nll) {
      best = SubspaceFit<S>{std::move(flow), k, {candidate}, false, 0};
      worse_in_a_row = 0;
    } else if (++worse_in_a_row == 2) {
      break;
    }
    if (candidate.cut_short) {
      exhausted = true;
      break;
    }
  }
  best->candidates = std::move(candidates);
  best->budget_exhausted = exhausted;
  best->seconds = elapsed();
  return std::move(*best);
}

}  // namespace eigenflow

#ifndef EIGENFLOW_PREBUILT
#include "eigenflow/train/subspace_fit_impl.hpp"
#endif
