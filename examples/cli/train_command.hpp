// eigenflow train: fit a flow by maximum likelihood, save it, print the final NLLs.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "baseline.hpp"
#include "context.hpp"
#include "options.hpp"
#include "shards.hpp"
#include "subspace_command.hpp"
#include "train_defaults.hpp"

namespace eigenflow::cli {

/// A copy of x with U[0, 1) noise on the columns.
inline Matrix<double> dequantized_copy(Matrix<double> x, const std::vector<Index>& columns, Random& rng) {
  add_uniform_noise(x, columns, rng);
  return x;
}

/// [Logit(lo, hi, α), Standardize fitted to the logits of `train` (of every rank's rows
/// with a communicator)], then the flow's layers and base.
template <class S>
FlowStack<S> behind_logit(const FlowStack<S>& flow, double lo, double hi, double alpha, const Matrix<double>& train,
                          Communicator* communicator) {
  const Index d = flow.dim();
  const Logit<S> logit(RowVector<S>::Constant(d, S(lo)), RowVector<S>::Constant(d, S(hi)), S(alpha));
  const Matrix<double> logits = logit.forward(train.cast<S>()).points.template cast<double>();
  const Standardization standardization = communicator ? fit_standardization(*communicator, logits) : Standardization::fit(logits);
  FlowStack<S> out(d, flow.context_dim());
  out.append(logit);
  out.append(Standardize<S>(standardization.shift.cast<S>(), standardization.scale.cast<S>()));
  for (std::size_t k = 0; k < flow.size(); ++k) out.append(flow.layer(k).clone());
  out.set_base(flow.base().clone());
  return out;
}

/// --start gaussian: [the standardisation, the zca_whitening of the standardised training
/// rows (every rank's with a communicator)], then the flow's layers and base; with
/// identity-initialised layers the model starts as the rows' full-covariance Gaussian.
template <class S>
FlowStack<S> behind_whitening(const FlowStack<S>& flow, const Standardization& standardization, const Matrix<double>& train,
                              Communicator* communicator) {
  FlowStack<S> out(flow.dim());
  out.set_preprocess(standardization.shift.cast<S>(), standardization.scale.cast<S>());
  const Matrix<double> standardized = standardization.apply(train);
  out.append(communicator ? zca_whitening_of_covariance<S>(pooled_covariance(*communicator, standardized))
                          : zca_whitening<S>(standardized));
  for (std::size_t k = 0; k < flow.size(); ++k) out.append(flow.layer(k).clone());
  out.set_base(flow.base().clone());
  return out;
}


/// The bits-per-dimension line of a dequantised model's NLLs.
inline void print_bits_per_dim(double train_nll, double val_nll, double test_nll, Index dim) {
  std::printf("bits_per_dim train=%s val=%s test=%s (dequantized: NLL / (D ln 2), a bound on -log2 P per dimension)\n",
              format_nll(bits_per_dim(train_nll, dim)).c_str(), format_nll(bits_per_dim(val_nll, dim)).c_str(),
              format_nll(bits_per_dim(test_nll, dim)).c_str());
}

/// Every flow but the subspace flow, trained as the flags say (o: defaults resolved); noisy
/// receives the one fixed draw of dequantised data that every printed NLL uses. Under
/// mpirun, split is this rank's rows of each split (shards: which, and the split's sizes);
/// rank 0 alone reports progress and writes checkpoints.
template <class S>
TrainedFlow<S> fit_flow(const Options& o, const DataSplit& split, const DataSplit& context, const std::vector<Index>& integer_columns,
                        const Bounds& bounds, std::optional<DataSplit>& noisy, const Shards* shards = nullptr) {
  const Index dim = split.train.cols(), context_dim = context.train.cols();
  const Index training_rows = shards ? shards->training : split.train.rows();
  const bool reporting = !shards || shards->communicator->rank() == 0;
  require(o.start != "gaussian" || (context_dim == 0 && o.bounded.empty() && o.flow.family != "cnf"),
          "--start gaussian: only for an unconditional flow on unbounded data (not with --context or --bounded, not cnf)");
  const bool spline = o.flow.family == "nsf" || o.flow.family == "nsf-ar";
  std::printf("train flow=%s layers=%lld hidden=%lld%s batch=%lld epochs=%lld patience=%lld weight_decay=%g jitter=%g "
              "(N=%lld training rows, D=%lld%s)\n",
              o.flow.family.c_str(), static_cast<long long>(o.flow.resolved_layers()), static_cast<long long>(o.flow.resolved_hidden()),
              spline ? (" bins=" + std::to_string(o.flow.spline.bins)).c_str() : "",
              o.batch, o.epochs, o.patience, o.weight_decay, o.jitter, static_cast<long long>(training_rows),
              static_cast<long long>(dim), context_dim > 0 ? (", context K=" + std::to_string(context_dim)).c_str() : "");
  std::fflush(stdout);

  // Dequantised data: the trainer draws fresh noise for every batch; validation, test and the
  // fits of the standardisation and of the baseline use one fixed draw, so that every NLL
  // printed is the same one-draw bound on −log P.
  Random noise_rng(o.seed + 3);
  if (o.dequantize)
    noisy = shards ? dequantized_shards(split, *shards, integer_columns, noise_rng)
                   : DataSplit{dequantized_copy(split.train, integer_columns, noise_rng),
                               dequantized_copy(split.validation, integer_columns, noise_rng),
                               dequantized_copy(split.test, integer_columns, noise_rng)};
  Communicator* communicator = shards ? shards->communicator : nullptr;
  const DataSplit& evaluated = noisy ? *noisy : split;
  const Standardization standardization =
      communicator ? fit_standardization(*communicator, evaluated.train) : Standardization::fit(evaluated.train);

  const nlohmann::json config = o.training_config();
  const std::string checkpoint_path = o.checkpoint_dir + "/checkpoint.json";
  std::optional<LoadedCheckpoint> checkpoint;
  if (o.resume) {
    checkpoint = load_checkpoint(checkpoint_path);
    for (const auto& [key, value] : config.items())
      if (!checkpoint->config.contains(key) || checkpoint->config[key] != value)
        throw UsageError("--resume: this run's --" + key + " (" + value.dump() + ") differs from the checkpoint's (" +
                         (checkpoint->config.contains(key) ? checkpoint->config[key].dump() : "missing") + ")");
  }
  Random model_rng(o.seed + 1);
  FlowStack<S> flow = checkpoint ? model_from_json<S>(checkpoint->model) : cli::build_flow<S>(o.flow, dim, model_rng, context_dim);
  if (!checkpoint) {
    if (bounds) flow = behind_logit(flow, bounds->first, bounds->second, o.logit_alpha, evaluated.train, communicator);
    else flow.set_preprocess(standardization.shift.cast<S>(), standardization.scale.cast<S>());
    if (o.start == "gaussian") flow = behind_whitening(flow, standardization, evaluated.train, communicator);
    flow.set_dequantized(integer_columns);
    if (context_dim > 0) {
      const Standardization scaling =
          communicator ? context_standardization(*communicator, context.train) : context_standardization(context.train);
      flow.set_context_preprocess(scaling.shift.cast<S>(), scaling.scale.cast<S>());
    }
  }
  auto optimizer = make_optimizer<S>(o, flow.parameters());
  if (checkpoint) optimizer->set_state(checkpoint->optimizer_steps, checkpoint->optimizer_state_as<S>());

  TrainOptions options =
      training_options(o, training_rows, shards ? shards->validation : split.validation.rows(), standardization.scale);
  options.dequantize = integer_columns;
  if (shards) {
    options.communicator = communicator;
    options.shard_rows = shards->training_rows;
  }
  SingleProcess one_process;
  options.chunk_rows = static_cast<Index>(o.chunk_rows);
  if (o.chunk_rows > 0 && !options.communicator) options.communicator = &one_process;  // the same bits as any P
  ProgressPrinter progress;
  if (reporting) options.on_epoch = reporting_to(progress, o.on_epoch);
  bool continuous = false;
  for (std::size_t k = 0; k < flow.size(); ++k) continuous = continuous || dynamic_cast<const OdeCounter*>(&flow.layer(k));
  if (continuous) {
    // function evaluations per ODE solve since the last line (training and validation solves alike)
    progress.extra = [&flow, seen = OdeCounts()]() mutable {
      const OdeCounts now = ode_counts(flow);
      const long long solves = now.solves - seen.solves;
      const double per_solve = solves > 0 ? double(now.evaluations - seen.evaluations) / double(solves) : 0.0;
      seen = now;
      char text[48];
      std::snprintf(text, sizeof text, "  nfe %.0f", per_solve);
      return std::string(text);
    };
  }
  if (checkpoint) options.resume = &checkpoint->trainer;
  if (!o.checkpoint_dir.empty() && reporting) {
    options.checkpoint_every = static_cast<Index>(o.checkpoint_every);
    options.on_checkpoint = [&](const TrainCheckpoint& state) { save_checkpoint(checkpoint_path, config, flow, *optimizer, state); };
  }

  const TrainResult result =
      context_dim > 0 ? train(flow, *optimizer, as_scalar<S>(split.train), as_scalar<S>(context.train), as_scalar<S>(evaluated.validation),
                              as_scalar<S>(context.validation), options)
                      : train(flow, *optimizer, as_scalar<S>(split.train), as_scalar<S>(evaluated.validation), options);
  if (reporting) progress.finish();
  // Which parameters were kept: the last epoch's, or the best validation epoch's when clearly better.
  const bool last = result.history.empty() || result.kept_epoch == result.history.back().epoch;
  const std::string kept = "kept_epoch=" + std::to_string(result.kept_epoch) +
                           (result.kept_epoch == 0 ? " (start)" : last ? " (last)" : " (best validation)");
  return {std::move(flow), result.seconds, kept, result.history.empty() ? 0 : result.history.back().epoch};
}

/// The default beyond 2D: the subspace flow's search over k, then, unless the flags fix
/// the model (--active, or --flow subspace), nsf with its own defaults as one more
/// candidate. The subspace flow is kept when it is clearly better than nsf on validation
/// (paired per-row gains, detail::clearly_better), nsf otherwise: nsf was the default
/// before it and the subspace flow must earn its place. Measured (benchmarks/README.md,
/// "Subspace flows"): where a few directions hold the structure (mixed-moons, diabetes)
/// the subspace flow wins clearly; where it is curved across many (breast cancer, k =
/// 12–16 of 30) nsf wins; on wine's 18 validation rows neither is clearly better, and the
/// lower mean alone kept the subspace flow 0.10 nats worse on test.
template <class S>
TrainedFlow<S> fit_default_beyond_2d(const Options& given, const Options& o, const DataSplit& split, const DataSplit& context,
                                     const Shards* shards) {
  check_subspace_combination(o, context.train.cols());
  SubspaceFit<S> fit = fit_subspace<S>(o, split, shards);
  double subspace_val = NAN;
  for (const auto& candidate : fit.candidates)
    if (candidate.active == fit.active) subspace_val = candidate.validation_nll;
  TrainedFlow<S> subspace{std::move(fit.flow), fit.seconds, "kept_k=" + std::to_string(fit.active), 0};
  auto chosen = [&](std::size_t candidates) {
    std::printf("subspace k=%lld chosen of %zu candidates (val_nll %s)\n", static_cast<long long>(fit.active), candidates,
                format_nll(subspace_val).c_str());
    return std::move(subspace);
  };
  if (o.active || !given.flow.family.empty() || fit.budget_exhausted) return chosen(fit.candidates.size());

  Options nsf_options = given;
  nsf_options.flow.family = "nsf";
  nsf_options = with_data_defaults(nsf_options, shards ? shards->training : split.train.rows(), split.train.cols());
  std::optional<DataSplit> unused;
  TrainedFlow<S> nsf = fit_flow<S>(nsf_options, split, context, {}, Bounds(), unused, shards);
  const Matrix<S> validation = as_scalar<S>(split.validation);
  const ColumnVector<S> nsf_log_p = nsf.flow.log_prob(validation);
  Eigen::ArrayXd gain = (subspace.flow.log_prob(validation) - nsf_log_p).template cast<double>().array();
  double nsf_val = -nsf_log_p.template cast<double>().sum();
  if (shards) {  // every rank's rows: the same gains and NLL on every rank, so the same choice
    const std::vector<double> all = shards->communicator->gather(std::vector<double>(gain.data(), gain.data() + gain.size()));
    gain = Eigen::Map<const Eigen::ArrayXd>(all.data(), static_cast<Index>(all.size()));
    shards->communicator->sum(&nsf_val, 1);
  }
  nsf_val /= static_cast<double>(gain.size());
  std::printf("candidate nsf val_nll=%s epochs=%lld seconds=%.1f\n", format_nll(nsf_val).c_str(), static_cast<long long>(nsf.epochs),
              nsf.seconds);
  if (detail::clearly_better(gain)) {
    subspace.seconds += nsf.seconds;
    return chosen(fit.candidates.size() + 1);
  }
  std::printf("nsf chosen over the subspace flow's k=%lld: not clearly worse on validation (val_nll %s against %s)\n",
              static_cast<long long>(fit.active), format_nll(nsf_val).c_str(), format_nll(subspace_val).c_str());
  nsf.seconds += subspace.seconds;
  nsf.kept = "kept_flow=nsf " + nsf.kept;
  return nsf;
}

/// The train flags checked, and resolved where one depends on another (given: whether
/// --activation and --lr were set; a continuous flow changes their defaults).
inline Options resolved_train_options(const Options& o, bool activation_given, bool lr_given) {
  require(std::isfinite(o.lr) && o.lr > 0, "--lr must be a positive number");
  require(std::isfinite(o.clip) && o.clip >= 0, "--clip must be non-negative");
  require(o.test_fraction >= 0 && o.test_fraction < 1, "--test-fraction must be in [0, 1)");
  require(o.average_decay >= 0 && o.average_decay < 1, "--average-decay must be in [0, 1)");
  require(std::isfinite(o.weight_decay) && std::isfinite(o.jitter), "--weight-decay and --jitter must be finite");
  if (!o.bounded.empty()) parse_bounds(o.bounded);
  require(std::isfinite(o.flow.spline.tail_bound) && o.flow.spline.tail_bound > 0, "--tail-bound must be a positive number");
  require(o.validation_fraction >= 0 && o.validation_fraction < 1, "--validation-fraction must be in [0, 1)");
  Options resolved = o;
  resolved.flow.activation = parse_activation(o.activation);
  if (o.flow.family == "cnf") {  // measured on two moons: benchmarks/README.md, "Continuous flows"
    if (!activation_given) resolved.flow.activation = Activation::tanh;  // smooth dynamics
    if (!lr_given) resolved.lr = 1e-2;
  }
  resolved.flow.conditioner = o.conditioner == "shared" ? Conditioner::shared : Conditioner::separate;
  resolved.flow.conditional_base = o.conditional_base;
  return resolved;
}

/// Rows a caller holds instead of the flags' files (the Python module): each matrix [x | c],
/// the context's `context_dim` columns last; held-out rows replace the split's share of them.
struct RowsInMemory {
  JointRows data;
  std::optional<Matrix<double>> validation, test;
};

template <class S>
int train_command(const Options& given, const RowsInMemory* memory = nullptr) {
  require_writable_destination(given.out);
  const Bounds bounds = bounds_of(given);
  Random data_rng(given.seed);
  // Rows [x | c]: the context columns (if any) moved last; every split keeps x and c paired.
  JointRows joint = memory ? memory->data
                           : load_joint_rows(given, given.data_path, data_rng, given.data_path.empty() ? given.dataset : "'" + given.data_path + "'");
  detail::require_finite("training data", joint.values);
  const Index context_dim = joint.context_dim, dim = joint.values.cols() - context_dim;
  check_preprocessing_combination(given, context_dim);
  const std::vector<Index> integer_columns = dequantized_columns(given, dim);
  check_preprocessing_flags(given, integer_columns, bounds, joint.values.leftCols(dim));
  // Held-out rows from files (or memory) replace the split's share of them; they have the training rows' layout.
  auto held_out = [&](const std::string& path, const std::optional<Matrix<double>>& rows_in_memory) {
    const std::string where = rows_in_memory ? path : "'" + path + "'";
    const JointRows rows = rows_in_memory ? JointRows{*rows_in_memory, context_dim} : load_joint_rows(given, path, data_rng, where, context_dim);
    require_training_layout(rows, dim, context_dim, where);
    check_preprocessing_flags(given, integer_columns, bounds, rows.values.leftCols(dim));
    return rows.values;
  };
  const std::optional<Matrix<double>> none;
  const bool validation_given = memory ? memory->validation.has_value() : !given.validation_path.empty();
  const bool test_given = memory ? memory->test.has_value() : !given.test_path.empty();
  DataSplit joint_split =
      split_dataset(joint.values, validation_given ? 0 : given.validation_fraction, test_given ? 0 : given.test_fraction, data_rng);
  joint.values.resize(0, 0);  // the split holds the rows now
  if (validation_given)
    joint_split.validation = memory ? held_out("the validation rows", memory->validation) : held_out(given.validation_path, none);
  if (test_given) joint_split.test = memory ? held_out("the test rows", memory->test) : held_out(given.test_path, none);
  auto [split, context] = split_columns(joint_split, dim);
  joint_split = DataSplit();
  require(split.train.rows() >= 2, "too few training points after the split");
  const Options o = with_data_defaults(given, split.train.rows(), dim, context_dim);
  check_subspace_flags(o, dim);
  std::optional<DataSplit> noisy;  // dequantised data: one fixed draw (fit_flow)
  TrainedFlow<S> fitted = o.flow.family == "subspace" ? fit_default_beyond_2d<S>(given, o, split, context, nullptr)
                                                      : fit_flow<S>(o, split, context, integer_columns, bounds, noisy);
  const DataSplit& evaluated = noisy ? *noisy : split;
  const FlowStack<S>& flow = fitted.flow;
  save_model(o.out, flow);

  auto nll = [&](const Matrix<double>& x, const Matrix<double>& c) {
    if (x.rows() == 0) return double(NAN);
    return context_dim > 0 ? mean_negative_log_likelihood(flow, as_scalar<S>(x), as_scalar<S>(c))
                           : mean_negative_log_likelihood(flow, as_scalar<S>(x));
  };
  const double train_nll = nll(evaluated.train, context.train), val_nll = nll(evaluated.validation, context.validation),
               test_nll = nll(evaluated.test, context.test);
  std::printf("final train_nll=%s val_nll=%s test_nll=%s seconds=%.2f %s\n", format_nll(train_nll).c_str(),
              format_nll(val_nll).c_str(), format_nll(test_nll).c_str(), fitted.seconds, fitted.kept.c_str());
  if (o.dequantize) print_bits_per_dim(train_nll, val_nll, test_nll, dim);
  print_gaussian_baseline(evaluated, context, train_nll, val_nll, test_nll);
  return 0;
}

}  // namespace eigenflow::cli
