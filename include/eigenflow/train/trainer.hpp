// Maximum-likelihood training: minimise −mean log p(x) over minibatches
// reshuffled every epoch (seeded), with validation NLL after each epoch,
// early stopping that restores the best parameters, optional gradient
// clipping and learning-rate schedule, and a guard that stops on a
// non-finite loss or gradient with the last good parameters kept.
// Optionally the loop keeps an exponential moving average of the parameters
// (Polyak–Ruppert averaging); validation, early stopping and the final model
// then use the average, which is smoother than the last iterate and
// generalises better on small data sets. A conditional flow p(x | c) trains
// the same way on pairs: row i of the data with row i of its context.
// Data-parallel training over several processes (TrainOptions::communicator,
// train/data_parallel.hpp) runs this same loop on each rank's shard.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/parallel.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/data/shuffle.hpp"
#include "eigenflow/flows/dequantization.hpp"
#include "eigenflow/optim/clipping.hpp"
#include "eigenflow/optim/optimizer.hpp"
#include "eigenflow/optim/schedule.hpp"
#include "eigenflow/train/batch_gradient.hpp"
#include "eigenflow/train/communicator.hpp"
#include "eigenflow/train/data_parallel.hpp"

namespace eigenflow {

/// What the loop reports after each epoch.
struct EpochReport {
  Index epoch = 0;   ///< 1-based
  Index epochs = 0;  ///< planned
  double train_nll = 0;
  double validation_nll = std::numeric_limits<double>::quiet_NaN();  ///< NaN without validation data
  double seconds = 0;  ///< since training started
  double steps_per_second = 0;
  double eta_seconds = 0;
  bool improved = false;  ///< best validation NLL so far
};

/// The loop's own state at the end of an epoch: with the parameters and the
/// optimizer's state it continues a run bit-identically (single thread).
struct TrainCheckpoint {
  Index epoch = 0;  ///< epochs completed
  long long steps = 0;
  Random::State rng{};  ///< the minibatch-order engine
  Index best_epoch = 0;
  double best_score = std::numeric_limits<double>::quiet_NaN();
  Index epochs_without_improvement = 0;
  std::vector<Matrix<double>> best;     ///< parameter values at best_epoch (exact for float and double)
  std::vector<Matrix<double>> average;  ///< the moving average; empty when averaging is off
};

struct TrainOptions {
  Index epochs = 100;
  Index batch_size = 256;  ///< 0: the whole training set in one batch
  Index patience = 0;      ///< epochs without validation improvement before stopping; 0: off
  /// With validation data, at the end (stopped early or not): end with the best validation
  /// epoch's parameters when they beat the last epoch's clearly (detail::clearly_better: a
  /// paired mean gain over two robust standard errors), the last epoch's otherwise, as they
  /// are then as good and a noisy argmin would often pick a worse model. Never a clearly
  /// worse model than the best one seen. The start counts as epoch 0: its validation NLL
  /// is measured before the first step, and the run ends with the starting parameters
  /// when the kept epoch's validation NLL is not lower (a flow started at a Gaussian
  /// never ends worse than that Gaussian on validation). false: the last epoch's
  /// (averaged) parameters.
  bool keep_best = true;
  std::uint64_t seed = 0;  ///< minibatch order
  double clip_norm = 0;    ///< gradient-norm clipping; 0: off
  std::optional<LearningRateSchedule> schedule;  ///< per optimizer step
  /// Parameter averaging after step t: θ̄ ← d·θ̄ + (1 − d)·θ with d = min(average_decay, (1 + t)/(10 + t)),
  /// the warm-up keeping early averages from dwelling on the initial values. 0: off.
  double average_decay = 0;
  /// Noise regularisation: each training point of a minibatch gets fresh Gaussian noise with these
  /// per-coordinate standard deviations (empty: none). The model then fits p * N(0, diag σ²), which
  /// costs little KL for σ well below the data's own scale but stops it memorising the points.
  RowVector<double> jitter;
  /// Uniform dequantisation (flows/dequantization.hpp): these integer-valued columns of every
  /// training point get fresh noise u ~ U[0, 1) in each batch. Validation data is used as
  /// given: dequantise it once beforehand, so that its NLL is the same bound at every epoch.
  std::vector<Index> dequantize;
  /// Threads over the batch (BatchGradient; needs OpenMP; 0: available_threads()). A worker
  /// gets at least min_rows_per_thread rows, so small batches stay on one thread; results
  /// differ from one thread's only by the order of floating-point sums.
  int threads = 0;
  Index min_rows_per_thread = 256;
  std::function<bool(const EpochReport&)> on_epoch;  ///< return false to stop
  Index checkpoint_every = 0;  ///< epochs between on_checkpoint calls; 0: never
  std::function<void(const TrainCheckpoint&)> on_checkpoint;
  /// Continue from here: the caller has already restored the parameters and the optimizer.
  const TrainCheckpoint* resume = nullptr;
  /// Data-parallel training: this process is one rank of `communicator`, and the training
  /// and validation rows it is given are its shards of the global sets. Every rank passes
  /// the same flow, optimizer and options; each computes its rows' part of every global
  /// batch, the gradient is summed across ranks, and every rank takes the same step, so the
  /// model is the one-process model (same seed, same global data) up to the order of the
  /// sums' additions (P = 1: bit-identical). Callbacks run on every rank with the same
  /// reports and checkpoints; rank 0's on_epoch answer decides whether to go on.
  /// Population statistics (BatchNorm) are those of every rank's training rows together;
  /// a training pass normalises by its own rows, as each thread's rows do in one process
  /// (each rank's rows of a batch, or with chunk_rows each chunk, are a batch).
  Communicator* communicator = nullptr;
  /// The global index of each training row of this rank's shard; empty: the shards in
  /// rank order (rank r's rows follow rank r − 1's).
  std::vector<Index> shard_rows;
  /// With a communicator: 0 sums each rank's rows' gradient across ranks, whose rounding
  /// depends on P; and training is chaotic, so over hundreds of steps that rounding grows
  /// (as it does between 1 and 2 threads). C > 0 makes the model the same bits for every
  /// P: each global batch is gathered on every rank and cut into chunks of C rows, chunk k's
  /// gradient is computed by rank k mod P on one thread, and the chunks' gradients are
  /// added in chunk order on every rank (costs an allgather of the batch and of one
  /// gradient per chunk). A SingleProcess communicator gives the same bits in one process.
  Index chunk_rows = 0;
};

struct TrainResult {
  std::vector<EpochReport> history;
  Index best_epoch = 0;
  double best_validation_nll = std::numeric_limits<double>::quiet_NaN();  ///< the training NLL without validation data
  Index kept_epoch = 0;  ///< the epoch whose parameters the flow ends with (0: the start)
  /// The validation NLL of the starting parameters (NaN without validation data, without
  /// keep_best, or on a resumed run, whose start the checkpoint does not hold).
  double start_validation_nll = std::numeric_limits<double>::quiet_NaN();
  bool stopped_early = false;
  double seconds = 0;
  long long steps = 0;
};

namespace detail {
template <class S>
std::vector<Matrix<S>> snapshot(const ParameterList<S>& parameters) {
  std::vector<Matrix<S>> values;
  for (const auto* p : parameters) values.push_back(p->value);
  return values;
}
template <class S>
void restore(const ParameterList<S>& parameters, const std::vector<Matrix<S>>& values) {
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i]->value = values[i];
}
template <class S>
void swap_values(const ParameterList<S>& parameters, std::vector<Matrix<S>>& values) {
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i]->value.swap(values[i]);
}
template <class To, class From>
std::vector<Matrix<To>> cast_all(const std::vector<Matrix<From>>& values) {
  std::vector<Matrix<To>> out;
  for (const auto& value : values) out.push_back(value.template cast<To>());
  return out;
}
}  // namespace detail

namespace detail {
/// Whether a flow offers initialize(batch) (both stacks do; a user's own flow need not).
template <class Flow, class S, class = void>
struct has_initialize : std::false_type {};
template <class Flow, class S>
struct has_initialize<Flow, S, std::void_t<decltype(std::declval<Flow&>().initialize(std::declval<const Matrix<S>&>()))>>
    : std::true_type {};
/// The same for initialize(batch, context).
template <class Flow, class S, class = void>
struct has_conditional_initialize : std::false_type {};
template <class Flow, class S>
struct has_conditional_initialize<Flow, S,
                                  std::void_t<decltype(std::declval<Flow&>().initialize(std::declval<const Matrix<S>&>(),
                                                                                        std::declval<const Matrix<S>&>()))>>
    : std::true_type {};
/// Whether a flow offers has_statistics() (both stacks: BatchNorm's population statistics).
template <class Flow, class = void>
struct has_statistics_query : std::false_type {};
template <class Flow>
struct has_statistics_query<Flow, std::void_t<decltype(std::declval<const Flow&>().has_statistics())>> : std::true_type {};
}  // namespace detail

namespace detail {
/// Whether paired per-point gains (log p under one model − log p under another) show the
/// first clearly better: a mean gain above two robust standard errors, 1.4826·MAD/√n (the
/// median absolute deviation, scaled to match the standard deviation of normal gains).
/// Heavy tails are why: a model that gives a few points a log-density of −1000 is worse
/// on average, and those points must count in the mean, but in a plain standard error (or
/// one of 5%-winsorised gains, when there are only 18 validation points) they would pass
/// for noise. Erring here keeps the best epoch, the safe side.
inline bool clearly_better(const Eigen::ArrayXd& gain) {
  const auto n = static_cast<std::size_t>(gain.size());
  if (n == 0) return false;
  auto median = [](std::vector<double> v) {
    const auto middle = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
    std::nth_element(v.begin(), middle, v.end());
    return *middle;
  };
  const double center = median(std::vector<double>(gain.data(), gain.data() + n));
  std::vector<double> deviations(n);
  for (std::size_t i = 0; i < n; ++i) deviations[i] = std::abs(gain(static_cast<Index>(i)) - center);
  const double standard_error = 1.4826 * median(std::move(deviations)) / std::sqrt(static_cast<double>(n));
  return gain.mean() > 2 * standard_error;
}
}  // namespace detail

namespace detail {
/// log p(x), or log p(x | c) when a context is given.
template <class Flow, class S>
ColumnVector<S> log_prob_given(const Flow& flow, const Matrix<S>& data, const Matrix<S>* context) {
  return context ? flow.log_prob(data, *context) : flow.log_prob(data);
}

/// −Σ log p(x [| c]) over data, in chunks so memory stays bounded.
template <class Flow, class S>
double total_nll(const Flow& flow, const Matrix<S>& data, const Matrix<S>* context, Index chunk) {
  if (context && context->rows() != data.rows())
    throw ShapeError("mean_negative_log_likelihood: expected one context row per data row (" + std::to_string(data.rows()) +
                     "), found " + std::to_string(context->rows()));
  double total = 0;
  for (Index first = 0; first < data.rows(); first += chunk) {
    const Index count = std::min(chunk, data.rows() - first);
    const Matrix<S> rows = data.middleRows(first, count);
    if (context) total -= flow.log_prob(rows, detail::middle_rows(*context, first, count)).template cast<double>().sum();
    else total -= flow.log_prob(rows).template cast<double>().sum();
  }
  return total;
}

/// −mean log p(x [| c]) over data.
template <class Flow, class S>
double mean_nll(const Flow& flow, const Matrix<S>& data, const Matrix<S>* context, Index chunk) {
  return total_nll(flow, data, context, chunk) / static_cast<double>(data.rows());
}
}  // namespace detail

/// −mean log p over data, evaluated in chunks so memory stays bounded.
template <class Flow, class S>
double mean_negative_log_likelihood(const Flow& flow, const Matrix<S>& data, Index chunk = 16384) {
  return detail::mean_nll(flow, data, static_cast<const Matrix<S>*>(nullptr), chunk);
}
/// −mean log p(x | c) over pairs (row i of data with row i of context).
template <class Flow, class S>
double mean_negative_log_likelihood(const Flow& flow, const Matrix<S>& data, const Matrix<S>& context, Index chunk = 16384) {
  return detail::mean_nll(flow, data, &context, chunk);
}

namespace detail {
// The loop behind both train overloads; the contexts are null for an unconditional flow.
template <class Flow, class S>
TrainResult train_loop(Flow& flow, Optimizer<S>& optimizer, const Matrix<S>& train_data, const Matrix<S>* train_context,
                       const Matrix<S>& validation_data, const Matrix<S>* validation_context, const TrainOptions& options) {
  Communicator* const group = options.communicator;  // null: one process
  const bool jittering = options.jitter.size() > 0;
  const bool dequantizing = !options.dequantize.empty();
  const ParameterList<S> parameters = flow.parameters();
  bool keeps_statistics = false;  // population statistics (BatchNorm)
  if constexpr (detail::has_statistics_query<Flow>::value) keeps_statistics = flow.has_statistics();
  auto check_inputs = [&] {
    if (options.epochs < 1) throw ValueError("train: epochs must be at least 1, found " + std::to_string(options.epochs));
    if (options.batch_size < 0) throw ValueError("train: batch size must be positive (0: full batch), found " + std::to_string(options.batch_size));
    if (options.patience < 0) throw ValueError("train: patience must be non-negative, found " + std::to_string(options.patience));
    if (!(options.clip_norm >= 0)) throw ValueError("train: clip norm must be non-negative");
    if (!(options.average_decay >= 0 && options.average_decay < 1))
      throw ValueError("train: average decay must be in [0, 1), found " + std::to_string(options.average_decay));
    if (train_data.rows() == 0) throw ValueError(group ? "train: no training data in this rank's shard" : "train: no training data");
    detail::require_finite("train (training data)", train_data);
    detail::require_finite("train (validation data)", validation_data);
    if (jittering && (options.jitter.size() != train_data.cols() || !(options.jitter.array() >= 0).all() || !options.jitter.allFinite()))
      throw ValueError("train: jitter needs " + std::to_string(train_data.cols()) +
                       " finite non-negative standard deviations (one per column), found " + std::to_string(options.jitter.size()) +
                       (options.jitter.size() == train_data.cols() ? " with a negative or non-finite one" : ""));
    if (train_context) {
      detail::require_context("train (training context)", train_data, *train_context, train_context->cols());
      if (validation_data.rows() > 0)
        detail::require_context("train (validation context)", validation_data, *validation_context, train_context->cols());
    }
    validate_dequantized_columns("train", options.dequantize, train_data.cols());
    require_integer_columns("train (training data)", train_data, options.dequantize);
    if (options.chunk_rows < 0) throw ValueError("train: chunk rows must be non-negative, found " + std::to_string(options.chunk_rows));
    if (options.chunk_rows > 0 && !group) throw ValueError("train: chunk rows need a communicator (SingleProcess in one process)");
  };
  Index validation_rows = validation_data.rows();  // global
  detail::ShardLayout shards;
  detail::check_on_every_rank(group, "train", check_inputs);
  if (group) {
    Index parameter_values = 0;
    for (const auto* p : parameters) parameter_values += p->value.size();
    const auto seed_high = static_cast<double>(options.seed >> 32), seed_low = static_cast<double>(options.seed & 0xffffffffULL);
    detail::require_same_settings(
        *group,
        {static_cast<double>(options.epochs), static_cast<double>(options.batch_size), static_cast<double>(options.patience),
         options.keep_best ? 1.0 : 0.0, seed_high, seed_low, options.clip_norm, options.average_decay,
         static_cast<double>(options.jitter.size()), options.jitter.size() > 0 ? options.jitter.sum() : 0.0,
         static_cast<double>(options.dequantize.size()), options.schedule ? 1.0 : 0.0, static_cast<double>(train_data.cols()),
         train_context ? static_cast<double>(train_context->cols()) : 0.0, static_cast<double>(parameters.size()),
         static_cast<double>(parameter_values), options.resume ? static_cast<double>(options.resume->epoch) : -1.0,
         static_cast<double>(options.chunk_rows)},
        {"epochs", "batch size", "patience", "keep_best", "seed", "seed", "clip norm", "average decay", "jitter columns",
         "jitter", "dequantised columns", "schedule", "data columns", "context columns", "parameter count",
         "parameter size", "resumed epoch", "chunk rows"});
    shards = detail::ShardLayout::build(*group, train_data.rows(), options.shard_rows);
    double rows = static_cast<double>(validation_rows);
    group->sum(&rows, 1);
    validation_rows = static_cast<Index>(rows);
  }
  const bool validating = validation_rows > 0;
  if (options.patience > 0 && !validating) throw ValueError("train: early stopping needs validation data");

  const Index n = group ? shards.global_rows : train_data.rows();
  const Index batch = options.batch_size == 0 ? n : std::min(options.batch_size, n);
  const Index full_batches = n / batch, remainder = n % batch;
  Random rng(options.seed);
  BatchGradient<S> gradient(options.threads, options.min_rows_per_thread);
  const Index context_cols = train_context ? train_context->cols() : 0;
  Matrix<S> batch_points(batch, train_data.cols()), remainder_points(remainder, train_data.cols());
  Matrix<S> batch_context(batch, context_cols), remainder_context(remainder, context_cols);
  // A rank's rows of the current global batch, and their positions in it.
  Matrix<S> shard_points, shard_context;
  std::vector<Index> shard_positions;
  std::vector<S> gradient_buffer;
  BatchGradient<S> chunk_gradient(1, options.min_rows_per_thread);  // one thread: a chunk's bits never depend on the rank
  const bool chunked = group && options.chunk_rows > 0;

  TrainResult result;
  std::vector<Matrix<S>> best = detail::snapshot(parameters), last_good = best;
  const bool averaging = options.average_decay > 0;
  std::vector<Matrix<S>> average;  // θ̄, or empty
  if (averaging) average = best;
  Index epochs_without_improvement = 0;
  Index first_epoch = 1;
  if (options.resume) {
    const TrainCheckpoint& from = *options.resume;
    if (from.best.size() != parameters.size())
      throw ValueError("train: the checkpoint holds " + std::to_string(from.best.size()) + " parameters, the flow " +
                       std::to_string(parameters.size()));
    rng.set_state(from.rng);
    result.steps = from.steps;
    result.best_epoch = from.best_epoch;
    result.best_validation_nll = from.best_score;
    epochs_without_improvement = from.epochs_without_improvement;
    best = detail::cast_all<S>(from.best);
    if (averaging != !from.average.empty() || (averaging && from.average.size() != parameters.size()))
      throw ValueError("train: the checkpoint's parameter averaging does not match this run's");
    if (averaging) average = detail::cast_all<S>(from.average);
    first_epoch = from.epoch + 1;
    if (options.patience > 0 && epochs_without_improvement >= options.patience) {  // it had stopped already
      first_epoch = options.epochs + 1;
      result.stopped_early = true;
    }
  }
  // Population statistics (BatchNorm) belong to the parameters evaluated: they are
  // set from the training data, as training sees it (one fixed draw of the
  // dequantisation noise; no jitter), whenever those parameters change before an
  // evaluation, and at the end.
  // Data-parallel: the statistics of every rank's rows together, each global row with
  // the noise one process gives it (every rank draws every row's, keeping its own).
  Matrix<S> statistics_data;
  if (keeps_statistics && dequantizing) {
    statistics_data = train_data;
    Random noise(options.seed ^ 0x5eed5eed5eed5eedULL);
    for (Index g = 0; g < n; ++g) {
      const Index i = group ? shards.local_row[static_cast<std::size_t>(g)] : g;
      for (const Index j : options.dequantize) {
        const double u = noise.uniform();
        if (i >= 0) statistics_data(i, j) += static_cast<S>(u);
      }
    }
  }
  auto refresh_statistics = [&] {
    if constexpr (detail::has_statistics_query<Flow>::value) {
      if (!keeps_statistics) return;
      const Matrix<S>& data = dequantizing ? statistics_data : train_data;
      if (train_context) flow.update_statistics(data, *train_context, group);
      else flow.update_statistics(data, group);
    }
  };
  // With chunks, every rank holds the whole validation set (the shards in rank order) and
  // evaluates its chunks of it, so each row's log p is computed at the same position for
  // every P: a GEMM's bits for a row can depend on where the row sits in its tile.
  Matrix<S> all_validation, all_validation_context;
  if (chunked && validating) {
    const Index first = detail::RankBlock::of(*group, validation_data.rows()).first;
    std::vector<Index> positions(static_cast<std::size_t>(validation_data.rows()));
    for (std::size_t i = 0; i < positions.size(); ++i) positions[i] = first + static_cast<Index>(i);
    const Matrix<S> no_context(validation_data.rows(), 0);
    detail::gather_batch(*group, validation_rows, positions, validation_data, validation_context ? *validation_context : no_context,
                         all_validation, all_validation_context);
  }
  // log p of the global validation set, every rank's rows (rank order).
  auto validation_log_p = [&]() -> Eigen::ArrayXd {
    if (chunked) {
      const std::vector<double> all = detail::values_by_chunks(*group, validation_rows, options.chunk_rows, [&](Index first, Index count) {
        const Matrix<S> rows = all_validation.middleRows(first, count);
        const Matrix<S> rows_context = validation_context ? detail::middle_rows(all_validation_context, first, count) : Matrix<S>();
        const ColumnVector<S> log_p = detail::log_prob_given(flow, rows, validation_context ? &rows_context : nullptr);
        std::vector<double> out(static_cast<std::size_t>(count));
        for (Index i = 0; i < count; ++i) out[static_cast<std::size_t>(i)] = static_cast<double>(log_p(i));
        return out;
      });
      return Eigen::Map<const Eigen::ArrayXd>(all.data(), static_cast<Index>(all.size()));
    }
    const Eigen::ArrayXd mine = validation_data.rows() > 0
                                    ? detail::log_prob_given(flow, validation_data, validation_context).template cast<double>().array()
                                    : Eigen::ArrayXd();
    if (!group) return mine;
    const std::vector<double> all = group->gather(std::vector<double>(mine.data(), mine.data() + mine.size()));
    return Eigen::Map<const Eigen::ArrayXd>(all.data(), static_cast<Index>(all.size()));
  };
  // −mean log p over the global validation set; with chunks the same bits for every P,
  // as the score that picks the kept epoch must be.
  auto validation_nll = [&] {
    if (!group) return detail::mean_nll(flow, validation_data, validation_context, 16384);
    if (chunked) {
      const Eigen::ArrayXd log_p = validation_log_p();
      double total = 0;
      for (Index i = 0; i < log_p.size(); ++i) total -= log_p(i);  // in row order, whatever P
      return total / static_cast<double>(validation_rows);
    }
    double total = validation_data.rows() > 0 ? detail::total_nll(flow, validation_data, validation_context, 16384) : 0.0;
    group->sum(&total, 1);
    return total / static_cast<double>(validation_rows);
  };

  // The start is a candidate too (keep_best): scored before any step or data-dependent
  // initialisation changes it.
  std::vector<Matrix<S>> start_values;
  if (validating && options.keep_best && !options.resume) {
    refresh_statistics();
    result.start_validation_nll = validation_nll();
    if (std::isfinite(result.start_validation_nll)) start_values = detail::snapshot(parameters);
  }

  const long long steps_before = result.steps;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  for (Index epoch = first_epoch; epoch <= options.epochs; ++epoch) {
    const std::vector<Index> order = random_order(n, rng);
    double loss_sum = 0;
    for (Index b = 0; b < full_batches + (remainder > 0 ? 1 : 0); ++b) {
      const bool last = b == full_batches;
      Matrix<S>& global_points = last ? remainder_points : batch_points;
      Matrix<S>& global_context = last ? remainder_context : batch_context;
      Matrix<S>& points = group ? shard_points : global_points;
      Matrix<S>& context = group ? shard_context : global_context;
      const Index batch_rows = global_points.rows();
      if (group) {  // this rank's rows of the batch
        shard_positions.clear();
        for (Index i = 0; i < batch_rows; ++i)
          if (shards.local_row[static_cast<std::size_t>(order[static_cast<std::size_t>(b * batch + i)])] >= 0)
            shard_positions.push_back(i);
        shard_points.resize(static_cast<Index>(shard_positions.size()), train_data.cols());
        shard_context.resize(shard_points.rows(), context_cols);
      }
      // Every rank draws the noise of every row of the batch, so the engine stays the one process's.
      for (Index i = 0, k = 0; i < batch_rows; ++i) {
        const Index row = order[static_cast<std::size_t>(b * batch + i)];
        const Index local = group ? shards.local_row[static_cast<std::size_t>(row)] : row;
        const bool mine = local >= 0;
        if (mine) {
          points.row(k) = train_data.row(local);
          if (train_context && context.cols() > 0) context.row(k) = train_context->row(local);
        }
        if (jittering)
          for (Index j = 0; j < points.cols(); ++j) {
            const auto noise = static_cast<S>(options.jitter(j) * rng.normal());
            if (mine) points(k, j) += noise;
          }
        if (dequantizing)
          for (const Index j : options.dequantize) {
            const auto noise = static_cast<S>(rng.uniform());
            if (mine) points(k, j) += noise;
          }
        if (mine) ++k;
      }
      // Data-dependent initialisation (ActNorm) from the first batch of a fresh
      // run (all of it, on every rank); the snapshots taken before it would
      // restore uninitialised values.
      const bool first_step = result.steps == 0 && !options.resume;
      if (group && (first_step || chunked))
        detail::gather_batch(*group, batch_rows, shard_positions, points, context, global_points, global_context);
      if (first_step) {
        if (!train_context) {
          if constexpr (detail::has_initialize<Flow, S>::value) flow.initialize(global_points);
        } else if constexpr (detail::has_conditional_initialize<Flow, S>::value) {
          flow.initialize(global_points, global_context);
        }
        best = last_good = detail::snapshot(parameters);
        if (averaging) average = best;
      }
      if (options.schedule) optimizer.set_learning_rate(options.schedule->at(result.steps));
      optimizer.zero_grad();
      double value = 0;
      if (chunked) {
        value = detail::chunked_gradient(*group, flow, parameters, chunk_gradient, global_points,
                                         train_context ? &global_context : nullptr, options.chunk_rows);
      } else {
        if (points.rows() > 0) value = train_context ? gradient(flow, points, context) : gradient(flow, points);
      }
      if (group && !chunked) {  // ∇ −(1/m) Σ_{this rank's rows} log p, summed over ranks
        const S share = static_cast<S>(points.rows()) / static_cast<S>(batch_rows);
        if (share != S(1))
          for (auto* p : parameters) p->grad *= share;
        value *= static_cast<double>(points.rows()) / static_cast<double>(batch_rows);
        detail::sum_gradients(*group, parameters, gradient_buffer);
        group->sum(&value, 1);
      }
      if (!std::isfinite(value) || !gradients_finite(parameters)) {
        detail::restore(parameters, last_good);
        refresh_statistics();
        throw NumericalError("training diverged at epoch " + std::to_string(epoch) + ", step " + std::to_string(result.steps + 1) +
                             ": " + (std::isfinite(value) ? "non-finite gradient" : "loss is " + std::to_string(value)) +
                             "; the parameters from the end of epoch " + std::to_string(epoch - 1) +
                             " were kept (try a lower learning rate or gradient clipping)");
      }
      if (options.clip_norm > 0) clip_grad_norm(parameters, options.clip_norm);
      optimizer.step();
      ++result.steps;
      if (averaging) {
        const double t = static_cast<double>(result.steps);
        const S decay = static_cast<S>(std::min(options.average_decay, (1 + t) / (10 + t)));
        for (std::size_t i = 0; i < parameters.size(); ++i)
          average[i] = decay * average[i] + (S(1) - decay) * parameters[i]->value;
      }
      loss_sum += value * static_cast<double>(batch_rows);
    }

    EpochReport report;
    report.epoch = epoch;
    report.epochs = options.epochs;
    report.train_nll = loss_sum / static_cast<double>(n);
    if (averaging) detail::swap_values(parameters, average);  // evaluate and keep θ̄
    if (validating) {
      refresh_statistics();
      report.validation_nll = validation_nll();
    }
    report.seconds = elapsed();
    report.steps_per_second = static_cast<double>(result.steps - steps_before) / std::max(report.seconds, 1e-9);
    report.eta_seconds = report.seconds / static_cast<double>(epoch - first_epoch + 1) * static_cast<double>(options.epochs - epoch);
    const double score = validating ? report.validation_nll : report.train_nll;
    if (!std::isfinite(score)) {
      detail::restore(parameters, last_good);
      refresh_statistics();
      throw NumericalError("training diverged at epoch " + std::to_string(epoch) + ": " +
                           (validating ? "validation" : "training") + " NLL is not finite; the parameters from the end of epoch " +
                           std::to_string(epoch - 1) + " were kept");
    }
    report.improved = result.best_epoch == 0 || score < result.best_validation_nll;
    if (report.improved) {
      result.best_epoch = epoch;
      result.best_validation_nll = score;
      best = detail::snapshot(parameters);
      epochs_without_improvement = 0;
    } else {
      ++epochs_without_improvement;
    }
    if (averaging) detail::swap_values(parameters, average);
    last_good = detail::snapshot(parameters);
    result.history.push_back(report);
    if (options.on_checkpoint && options.checkpoint_every > 0 && epoch % options.checkpoint_every == 0)
      options.on_checkpoint({epoch, result.steps, rng.state(), result.best_epoch, result.best_validation_nll,
                             epochs_without_improvement, detail::cast_all<double>(best), detail::cast_all<double>(average)});
    bool keep_going = !options.on_epoch || options.on_epoch(report);
    if (group) keep_going = group->gather({keep_going ? 1.0 : 0.0})[0] != 0;  // rank 0's answer
    if (!keep_going) break;
    if (options.patience > 0 && epochs_without_improvement >= options.patience) {
      result.stopped_early = true;
      break;
    }
  }
  if (averaging) detail::restore(parameters, average);
  refresh_statistics();
  result.kept_epoch = result.history.empty() ? first_epoch - 1 : result.history.back().epoch;
  if (validating && options.keep_best && result.best_epoch != result.kept_epoch && result.best_epoch > 0) {
    const Eigen::ArrayXd last_log_p = validation_log_p();
    std::vector<Matrix<S>> last = detail::snapshot(parameters);
    detail::restore(parameters, best);
    refresh_statistics();
    if (detail::clearly_better(validation_log_p() - last_log_p)) {
      result.kept_epoch = result.best_epoch;
    } else {
      detail::restore(parameters, last);
      refresh_statistics();
    }
  }
  // The kept epoch's validation NLL was measured with these very parameters (θ̄ when averaging).
  const double kept_validation_nll =
      result.kept_epoch == result.best_epoch ? result.best_validation_nll : result.history.back().validation_nll;
  if (!start_values.empty() && !(kept_validation_nll < result.start_validation_nll)) {
    detail::restore(parameters, start_values);
    refresh_statistics();
    result.kept_epoch = 0;
  }
  result.seconds = elapsed();
  return result;
}
}  // namespace detail

/// Trains flow (any stack with negative_log_likelihood(tape, x), log_prob and parameters()).
template <class Flow, class S>
TrainResult train(Flow& flow, Optimizer<S>& optimizer, const Matrix<S>& train_data, const Matrix<S>& validation_data,
                  const TrainOptions& options) {
  return detail::train_loop(flow, optimizer, train_data, static_cast<const Matrix<S>*>(nullptr), validation_data,
                            static_cast<const Matrix<S>*>(nullptr), options);
}

/// Trains a conditional flow p(x | c) on pairs: row i of train_data with row i of
/// train_context (and the same for validation); the options mean what they mean
/// above, the noise options touching x only.
template <class Flow, class S>
TrainResult train(Flow& flow, Optimizer<S>& optimizer, const Matrix<S>& train_data, const Matrix<S>& train_context,
                  const Matrix<S>& validation_data, const Matrix<S>& validation_context, const TrainOptions& options) {
  return detail::train_loop(flow, optimizer, train_data, &train_context, validation_data, &validation_context, options);
}

}  // namespace eigenflow
