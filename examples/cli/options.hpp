// The command line's options, usage errors and the helpers every subcommand shares.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

#include "flow_builder.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace eigenflow::cli {

/// A flag value that parsed but makes no sense: exit code 2, like a parse error.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void require(bool condition, const std::string& message) {
  if (!condition) throw UsageError(message);
}

/// Refuse early (before minutes of training) to write into a directory that is not there.
inline void require_writable_destination(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string directory = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (::access(directory.c_str(), W_OK) != 0)
    throw IoError("cannot write '" + path + "': directory '" + directory + "' does not exist or is not writable");
}

struct Options {
  // data
  std::string dataset, data_path;
  std::string validation_path, test_path;  ///< held-out rows from files instead of from the split
  long long n = 3000;
  std::optional<double> noise;
  std::optional<Index> dim;  ///< for the data sets that take one
  unsigned long long seed = 0;
  // model and training
  FlowSpec flow;
  // Defaults chosen by measurement on two moons (3000 points, noise 0.05) and on mixed-moons
  // at D = 8; see benchmarks/README.md. −1: chosen from the data's size (train_defaults.hpp).
  std::string activation = "relu", conditioner = "separate", optimizer = "adamw", precision = "float", schedule = "cosine";
  long long batch = -1, epochs = -1, patience = -1, threads = 0;
  long long bins = -1;  ///< spline bins of nsf and nsf-ar: −1 chosen (train_defaults.hpp), else flow.spline.bins
  double lr = 3e-3, weight_decay = -1, test_fraction = 0.1, validation_fraction = 0.1, clip = 0;
  double average_decay = 0.998, jitter = -1;  ///< jitter −1: 0.03, or 0 for dequantised or bounded data and for cnf
  // the subspace flow (subspace_command.hpp)
  std::optional<long long> active;  ///< --active K: a fixed k; none: the search over the ladder
  std::optional<double> budget;     ///< --budget SECONDS for the whole search; none: subspace_default_budget
  // preprocessing inside the model
  std::string start;                      ///< "gaussian": a whitening layer first, so training starts at the full-covariance Gaussian; "standard"; "": chosen (train_defaults.hpp)
  bool dequantize = false;                ///< every column holds integers: add U[0, 1) noise (flows/dequantization.hpp)
  std::string bounded;                    ///< "LO,HI": a logit map from [LO, HI] (flows/logit.hpp)
  double logit_alpha = 1e-3;
  long long draws = 16;                   ///< logprob of a dequantised model: draws per point
  // conditional models p(x | c) (context.hpp)
  long long context_columns = -1;  ///< train, logprob: the last K columns are the context (−1: none / the model's)
  std::string context_names;       ///< train, logprob: the context columns by header name, "a,b"
  std::string context_values;      ///< sample, plot, animate: one context "v1,v2" for every point
  std::string context_file;        ///< sample: a CSV of contexts, one per point
  bool conditional_base = false;   ///< train: a diagonal Gaussian base whose mean and log-std come from c
  // variational inference (fit); defaults measured on U1–U4 (docs/variational-inference.md)
  std::string target;
  long long steps = 40000, fit_batch = 256, anneal = -1, fit_samples = 100000;  ///< anneal −1: steps / 2
  double fit_lr = 1e-2, fit_clip = 5;
  // files
  std::string out, model_path, in_path, checkpoint_dir;
  long long samples = 1000, checkpoint_every = 1;
  long long chunk_rows = 0;  ///< train: the gradient summed over chunks of this many rows in a fixed order (TrainOptions::chunk_rows)
  bool resume = false;
  bool keep_last = false;  ///< save the last epoch's parameters, not the best validation epoch's
  // not flags: a caller's hooks (the Python module's progress callback), called after each
  // progress line (on every rank that reports); false stops training as early stopping would
  std::function<bool(const EpochReport&)> on_epoch;
  std::function<bool(const FitReport&)> on_fit_report;

  /// What defines a training run; a resumed run must match its checkpoint's.
  nlohmann::json training_config() const {
    nlohmann::json config = {{"dataset", dataset}, {"data", data_path}, {"validation_data", validation_path}, {"test_data", test_path}, {"n", n}, {"noise", noise ? nlohmann::json(*noise) : nlohmann::json()},
            {"dim", dim ? nlohmann::json(*dim) : nlohmann::json()},
            {"seed", seed}, {"flow", flow.family}, {"layers", flow.resolved_layers()}, {"hidden", flow.resolved_hidden()},
            {"depth", flow.depth}, {"bins", flow.spline.bins}, {"tail_bound", flow.spline.tail_bound}, {"order", flow.order},
            {"mix", flow.mix}, {"actnorm", flow.actnorm}, {"batch_norm", flow.batch_norm},
            {"activation", activation}, {"conditioner", conditioner}, {"optimizer", optimizer}, {"precision", precision},
            {"schedule", schedule}, {"batch", batch}, {"epochs", epochs}, {"patience", patience}, {"lr", lr},
            {"weight_decay", weight_decay}, {"clip", clip}, {"test_fraction", test_fraction},
            {"validation_fraction", validation_fraction}, {"average_decay", average_decay}, {"jitter", jitter},
            {"keep_last", keep_last}, {"start", start}, {"dequantize", dequantize}, {"bounded", bounded}, {"logit_alpha", logit_alpha},
            {"context_columns", context_columns}, {"context", context_names}, {"conditional_base", conditional_base},
            {"dynamics", flow.cnf.dynamics}, {"width", flow.cnf.width}, {"solver", flow.cnf.solver}, {"steps", flow.cnf.steps},
            {"rtol", flow.cnf.rtol}, {"atol", flow.cnf.atol}, {"gradient", flow.cnf.gradient}, {"trace", flow.cnf.trace},
            {"kinetic", flow.cnf.kinetic}, {"jacobian_penalty", flow.cnf.jacobian}};
    if (chunk_rows > 0) config["chunk_rows"] = chunk_rows;  // absent when off: older checkpoints still resume
    return config;
  }
};

/// The progress line, then the caller's hook (Options::on_epoch, on_fit_report); either may stop training.
template <class Report>
std::function<bool(const Report&)> reporting_to(ProgressPrinter& progress, const std::function<bool(const Report&)>& hook) {
  return [&progress, hook](const Report& report) {
    const bool printer_goes_on = progress(report);
    return (!hook || hook(report)) && printer_goes_on;
  };
}

/// --threads T: T threads at most; 0 (the default) leaves OpenMP's own count (every
/// core, or OMP_NUM_THREADS), of which a batch uses one per 256 rows (Trainer).
inline void set_threads(long long threads) {
  require(threads >= 0, "--threads must be 0 (automatic) or a positive count");
  if (threads == 0) return;
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(threads));
#endif
  Eigen::setNbThreads(static_cast<int>(threads));
}

/// A CSV file (header and values), the rows read so far reported on stderr while a large file loads.
inline CsvTable read_table(const std::string& path, Index columns = -1) {
  CsvProgress progress;
  bool reported = false;
  progress.report = [&](std::size_t rows) {
    std::fprintf(stderr, "\rreading %s: %zu rows", path.c_str(), rows);
    reported = true;
  };
  CsvTable table = read_csv(path, columns, progress);
  if (reported)
    std::fprintf(stderr, "\rread %s: %lld rows of %lld columns\n", path.c_str(), static_cast<long long>(table.values.rows()),
                 static_cast<long long>(table.values.cols()));
  return table;
}

/// The same, its values only.
inline Matrix<double> read_points(const std::string& path, Index columns = -1) { return read_table(path, columns).values; }

/// "LO,HI" of --bounded as two numbers with LO < HI.
inline std::pair<double, double> parse_bounds(const std::string& text) {
  const auto comma = text.find(',');
  double lo = 0, hi = 0;
  const bool parsed = comma != std::string::npos && detail::parse_number(detail::trim(text.substr(0, comma)), lo) &&
                      detail::parse_number(detail::trim(text.substr(comma + 1)), hi);
  require(parsed && std::isfinite(lo) && std::isfinite(hi) && lo < hi, "--bounded expects LO,HI with LO < HI, found '" + text + "'");
  return {lo, hi};
}

/// The box of --bounded LO,HI, when given.
using Bounds = std::optional<std::pair<double, double>>;

/// --bounded's box, parsed; none without the flag.
inline Bounds bounds_of(const Options& o) { return o.bounded.empty() ? Bounds() : Bounds(parse_bounds(o.bounded)); }

/// The columns --dequantize makes continuous: every point column, or none.
inline std::vector<Index> dequantized_columns(const Options& o, Index dim) {
  std::vector<Index> columns;
  if (o.dequantize)
    for (Index j = 0; j < dim; ++j) columns.push_back(j);
  return columns;
}

/// --dequantize and --bounded: refuse the flag combinations they cannot serve.
inline void check_preprocessing_combination(const Options& o, Index context_dim) {
  require(!o.dequantize || context_dim == 0,
          "--dequantize is not available for conditional models yet (logprob would report a density, not a mass)");
  require(o.jitter <= 0 || o.bounded.empty(), "--jitter cannot be combined with --bounded: the noise could leave the bounds");
}

/// --dequantize and --bounded: refuse data they cannot describe, naming the row (counted
/// from first_row: data may be one rank's block of the rows) and column.
inline void check_preprocessing_flags(const Options& o, const std::vector<Index>& integer_columns, const Bounds& bounds,
                                      const Eigen::Ref<const Matrix<double>>& data, Index first_row = 0) {
  require_integer_columns("--dequantize: the data", data, integer_columns, first_row);
  if (!bounds) return;
  const auto [lo, hi] = *bounds;
  const double top = o.dequantize ? hi - 1 : hi;  // x + u with u < 1 must stay below HI
  for (Index i = 0; i < data.rows(); ++i)
    for (Index j = 0; j < data.cols(); ++j)
      if (!(data(i, j) >= lo && data(i, j) <= top))
        throw ValueError("--bounded " + o.bounded + ": the data's row " + std::to_string(first_row + i) + ", column " +
                         std::to_string(j) + " is " + std::to_string(data(i, j)) + ", outside [" + std::to_string(lo) + ", " +
                         std::to_string(top) + "]" + (o.dequantize ? " (with --dequantize, x + 1 must not exceed HI)" : ""));
}

template <class S>
std::unique_ptr<Optimizer<S>> make_optimizer(const Options& o, ParameterList<S> parameters) {
  if (o.optimizer == "adamw" || o.optimizer == "adam") {
    AdamOptions options;
    options.learning_rate = o.lr;
    options.weight_decay = o.weight_decay;
    if (o.optimizer == "adamw") return std::make_unique<AdamW<S>>(std::move(parameters), options);
    return std::make_unique<Adam<S>>(std::move(parameters), options);
  }
  SgdOptions options;
  options.learning_rate = o.lr;
  options.momentum = 0.9;
  options.weight_decay = o.weight_decay;
  return std::make_unique<Sgd<S>>(std::move(parameters), options);
}

/// The data as scalar S without a copy when S is double.
template <class S>
std::conditional_t<std::is_same_v<S, double>, const Matrix<double>&, Matrix<S>> as_scalar(const Matrix<double>& x) {
  if constexpr (std::is_same_v<S, double>) return x;
  else return x.cast<S>();
}

/// The trainer's options as the flags say, for splits of these sizes (all ranks' rows under
/// mpirun; scale: the training rows' standard deviations, the unit of --jitter); the
/// caller adds its own (dequantisation, progress).
inline TrainOptions training_options(const Options& o, Index train_rows, Index validation_rows, const RowVector<double>& scale) {
  TrainOptions options;
  options.epochs = static_cast<Index>(o.epochs);
  options.batch_size = static_cast<Index>(o.batch);
  options.patience = validation_rows > 0 ? static_cast<Index>(o.patience) : 0;
  options.keep_best = !o.keep_last;
  options.seed = o.seed + 2;
  options.clip_norm = o.clip;
  options.threads = static_cast<int>(o.threads);
  options.average_decay = o.average_decay;
  if (o.jitter > 0) options.jitter = o.jitter * scale;
  const Index batch = options.batch_size == 0 ? train_rows : std::min<Index>(options.batch_size, train_rows);
  const long long steps_per_epoch = (train_rows + batch - 1) / batch;
  if (o.schedule == "cosine") options.schedule = LearningRateSchedule::cosine(o.lr, steps_per_epoch * o.epochs, o.lr / 100);
  return options;
}

/// A trained model as train_command saves and reports it.
template <class S>
struct TrainedFlow {
  FlowStack<S> flow;
  double seconds = 0;  ///< training's wall time
  std::string kept;    ///< which parameters were kept: "kept_epoch=E (…)" or "kept_k=K"
  Index epochs = 0;    ///< epochs trained
};

inline std::string format_nll(double value) {
  if (std::isnan(value)) return "nan";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", value);
  return buffer;
}

}  // namespace eigenflow::cli
