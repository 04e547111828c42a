// The eigenflow command line: generate data, train a flow, evaluate
// densities, sample, and draw pictures. Exit 0 on success, 2 on a usage
// error, 1 on any other error, with one line "error: ..." on stderr and no
// output file left behind.
#include <CLI/CLI.hpp>
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "flow_builder.hpp"
#include "gnuplot.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using namespace eigenflow;

/// A flag value that parsed but makes no sense: exit code 2, like a parse error.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void require(bool condition, const std::string& message) {
  if (!condition) throw UsageError(message);
}

/// Refuse early (before minutes of training) to write into a directory that is not there.
void require_writable_destination(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string directory = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (::access(directory.c_str(), W_OK) != 0)
    throw IoError("cannot write '" + path + "': directory '" + directory + "' does not exist or is not writable");
}

struct Options {
  // data
  std::string dataset, data_path;
  long long n = 3000;
  std::optional<double> noise;
  unsigned long long seed = 0;
  // model and training
  cli::FlowSpec flow;
  // Defaults chosen by measurement on two moons (3000 points, noise 0.05); see benchmarks/README.md.
  std::string activation = "relu", conditioner = "separate", optimizer = "adamw", precision = "float", schedule = "cosine";
  long long batch = 64, epochs = 300, patience = 0, threads = 1;
  double lr = 3e-3, weight_decay = 1e-2, test_fraction = 0.1, validation_fraction = 0.1, clip = 0;
  double average_decay = 0.998, jitter = 0.03;
  // files
  std::string out, model_path, in_path, checkpoint_dir;
  long long samples = 1000, checkpoint_every = 1;
  bool resume = false;

  /// What defines a training run; a resumed run must match its checkpoint's.
  nlohmann::json training_config() const {
    return {{"dataset", dataset}, {"data", data_path}, {"n", n}, {"noise", noise ? nlohmann::json(*noise) : nlohmann::json()},
            {"seed", seed}, {"flow", flow.family}, {"layers", flow.layers}, {"hidden", flow.hidden}, {"depth", flow.depth},
            {"activation", activation}, {"conditioner", conditioner}, {"optimizer", optimizer}, {"precision", precision},
            {"schedule", schedule}, {"batch", batch}, {"epochs", epochs}, {"patience", patience}, {"lr", lr},
            {"weight_decay", weight_decay}, {"clip", clip}, {"test_fraction", test_fraction},
            {"validation_fraction", validation_fraction}, {"average_decay", average_decay}, {"jitter", jitter}};
  }
};

void set_threads(long long threads) {
  require(threads >= 1, "--threads must be at least 1");
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(threads));
#endif
  Eigen::setNbThreads(static_cast<int>(threads));
}

Matrix<double> load_or_generate(const Options& o, Random& rng) {
  if (!o.data_path.empty()) return read_csv(o.data_path).values;
  return generate_dataset(o.dataset, static_cast<Index>(o.n), rng, o.noise);
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

std::string format_nll(double value) {
  if (std::isnan(value)) return "nan";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", value);
  return buffer;
}

template <class S>
int train_command(const Options& o) {
  require_writable_destination(o.out);
  Random data_rng(o.seed);
  const Matrix<double> data = load_or_generate(o, data_rng);
  detail::require_finite("training data", data);
  const DataSplit split = split_dataset(data, o.validation_fraction, o.test_fraction, data_rng);
  require(split.train.rows() >= 2, "too few training points after the split");
  const Standardization standardization = Standardization::fit(split.train);

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
  FlowStack<S> flow = checkpoint ? model_from_json<S>(checkpoint->model) : cli::build_flow<S>(o.flow, data.cols(), model_rng);
  if (!checkpoint) flow.set_preprocess(standardization.shift.cast<S>(), standardization.scale.cast<S>());
  auto optimizer = make_optimizer<S>(o, flow.parameters());
  if (checkpoint) optimizer->set_state(checkpoint->optimizer_steps, checkpoint->optimizer_state_as<S>());

  TrainOptions options;
  options.epochs = static_cast<Index>(o.epochs);
  options.batch_size = static_cast<Index>(o.batch);
  options.patience = split.validation.rows() > 0 ? static_cast<Index>(o.patience) : 0;
  options.seed = o.seed + 2;
  options.clip_norm = o.clip;
  options.threads = static_cast<int>(o.threads);
  options.average_decay = o.average_decay;
  if (o.jitter > 0) options.jitter = o.jitter * standardization.scale;
  const Index batch = options.batch_size == 0 ? split.train.rows() : std::min<Index>(options.batch_size, split.train.rows());
  const long long steps_per_epoch = (split.train.rows() + batch - 1) / batch;
  if (o.schedule == "cosine") options.schedule = LearningRateSchedule::cosine(o.lr, steps_per_epoch * o.epochs, o.lr / 100);
  ProgressPrinter progress;
  options.on_epoch = [&progress](const EpochReport& report) { return progress(report); };
  if (checkpoint) options.resume = &checkpoint->trainer;
  if (!o.checkpoint_dir.empty()) {
    options.checkpoint_every = static_cast<Index>(o.checkpoint_every);
    options.on_checkpoint = [&](const TrainCheckpoint& state) { save_checkpoint(checkpoint_path, config, flow, *optimizer, state); };
  }

  const TrainResult result = train(flow, *optimizer, Matrix<S>(split.train.cast<S>()), Matrix<S>(split.validation.cast<S>()), options);
  progress.finish();
  save_model(o.out, flow);

  const double train_nll = mean_negative_log_likelihood(flow, Matrix<S>(split.train.cast<S>()));
  const double val_nll = split.validation.rows() ? mean_negative_log_likelihood(flow, Matrix<S>(split.validation.cast<S>())) : NAN;
  const double test_nll = split.test.rows() ? mean_negative_log_likelihood(flow, Matrix<S>(split.test.cast<S>())) : NAN;
  std::printf("final train_nll=%s val_nll=%s test_nll=%s seconds=%.2f\n", format_nll(train_nll).c_str(),
              format_nll(val_nll).c_str(), format_nll(test_nll).c_str(), result.seconds);
  return 0;
}

template <class S>
int logprob_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  const Matrix<double> points = read_csv(o.in_path, flow.dim()).values;
  const ColumnVector<S> log_prob = flow.log_prob(points.cast<S>());
  write_csv(o.out, log_prob, {"log_prob"});
  return 0;
}

template <class S>
int sample_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  require(o.samples >= 1, "--n must be at least 1");
  Random rng(o.seed);
  const Matrix<S> points = flow.sample(static_cast<Index>(o.samples), rng);
  write_csv(o.out, points, point_header(flow.dim()));
  return 0;
}

template <class S>
int plot_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  if (flow.dim() != 2) throw ValueError("plot draws 2D models; this model has dimension " + std::to_string(flow.dim()));
  Random rng(o.seed);
  const Matrix<double> samples = flow.sample(3000, rng).template cast<double>();
  std::optional<Matrix<double>> data;
  if (!o.data_path.empty()) data = read_csv(o.data_path, 2).values;
  const Matrix<double>& reference = data ? *data : samples;
  const auto [x_low, x_high] = cli::robust_range(reference.col(0));
  const auto [y_low, y_high] = cli::robust_range(reference.col(1));

  const Index cells = 160;
  Matrix<double> grid(cells * cells, 2);
  for (Index i = 0; i < cells; ++i)
    for (Index j = 0; j < cells; ++j)
      grid.row(i * cells + j) << x_low + (x_high - x_low) * (static_cast<double>(i) + 0.5) / cells,
          y_low + (y_high - y_low) * (static_cast<double>(j) + 0.5) / cells;
  const ColumnVector<double> density = flow.log_prob(grid.cast<S>()).array().exp().template cast<double>();

  cli::ScratchDirectory scratch;
  cli::write_points(scratch.file("samples.dat"), samples);
  if (data) cli::write_points(scratch.file("data.dat"), *data);
  {
    std::ofstream out(scratch.file("density.dat"));
    for (Index i = 0; i < cells; ++i) {
      for (Index j = 0; j < cells; ++j) out << grid(i * cells + j, 0) << ' ' << grid(i * cells + j, 1) << ' ' << density(i * cells + j) << '\n';
      out << '\n';
    }
  }
  char ranges[256];
  std::snprintf(ranges, sizeof ranges, "set xrange [%g:%g]\nset yrange [%g:%g]\n", x_low, x_high, y_low, y_high);
  const int panels = data ? 3 : 2;
  std::string script = "set terminal pngcairo size " + std::to_string(420 * panels) + ",440 font 'Sans,10'\n";
  script += "set output '" + scratch.file("out.png") + "'\n" + ranges;
  script += "set multiplot layout 1," + std::to_string(panels) + "\nset size ratio -1\nunset key\n";
  if (data) script += "set title 'data'\nplot '" + scratch.file("data.dat") + "' with points pt 7 ps 0.25 lc rgb '#1f77b4'\n";
  script += "set title 'samples from the flow'\nplot '" + scratch.file("samples.dat") + "' with points pt 7 ps 0.25 lc rgb '#d62728'\n";
  script += "set title 'model density'\nset palette rgb 34,35,36\nunset colorbox\nplot '" + scratch.file("density.dat") +
            "' with image\nunset multiplot\n";
  cli::run_gnuplot(scratch, script, scratch.file("out.png"), o.out);
  return 0;
}

template <class S>
int animate_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  if (flow.dim() != 2) throw ValueError("animate draws 2D models; this model has dimension " + std::to_string(flow.dim()));
  Random rng(o.seed);
  const Matrix<S> z = flow.base().sample(static_cast<Index>(o.samples), rng);
  const std::vector<Matrix<S>> frames = flow.inverse_trajectory(z);  // base -> … -> data, seed 000's animation
  cli::ScratchDirectory scratch;
  Matrix<double> all(static_cast<Index>(frames.size()) * z.rows(), 2);
  for (std::size_t k = 0; k < frames.size(); ++k) {
    all.middleRows(static_cast<Index>(k) * z.rows(), z.rows()) = frames[k].template cast<double>();
    cli::write_points(scratch.file("frame" + std::to_string(k) + ".dat"), frames[k].template cast<double>());
  }
  const auto [x_low, x_high] = cli::robust_range(all.col(0));
  const auto [y_low, y_high] = cli::robust_range(all.col(1));
  char ranges[256];
  std::snprintf(ranges, sizeof ranges, "set xrange [%g:%g]\nset yrange [%g:%g]\n", x_low, x_high, y_low, y_high);
  std::string script = "set terminal gif animate delay 60 loop 0 size 520,520 font 'Sans,10'\n";
  script += "set output '" + scratch.file("out.gif") + "'\n" + ranges + "set size ratio -1\nunset key\n";
  for (std::size_t k = 0; k < frames.size(); ++k) {
    const std::string title = k == 0 ? "base samples" : (k + 1 == frames.size() ? "data space (after all layers)" : "after inverting " + std::to_string(k) + " layer(s)");
    script += "set title '" + title + "'\nplot '" + scratch.file("frame" + std::to_string(k) + ".dat") +
              "' with points pt 7 ps 0.4 lc rgb '#d62728'\n";
  }
  cli::run_gnuplot(scratch, script, scratch.file("out.gif"), o.out);
  return 0;
}

/// Loads the model in its own precision and runs a command on it.
template <class Command>
int with_model(const Options& o, const Command& command) {
  const nlohmann::json document = read_model_document(o.model_path);
  try {
    if (model_scalar(document) == "float32") return command(model_from_json<float>(document));
    return command(model_from_json<double>(document));
  } catch (const FormatError& e) {
    throw FormatError(o.model_path + ": " + e.what());
  }
}

int run(int argc, char** argv) {
  CLI::App app{"eigenflow: normalizing flows on 2D data"};
  app.require_subcommand(1);
  Options o;

  app.add_subcommand("datasets", "list the built-in data sets");

  auto* generate = app.add_subcommand("generate", "write points of a built-in data set to a CSV file");
  generate->add_option("--dataset", o.dataset, "data set name (see 'eigenflow datasets')")->required();
  generate->add_option("--n", o.n, "number of points")->check(CLI::PositiveNumber);
  generate->add_option("--noise", o.noise, "noise standard deviation, where the set has one");
  generate->add_option("--seed", o.seed, "random seed");
  generate->add_option("--out", o.out, "output CSV")->required();

  auto* train_cmd = app.add_subcommand("train", "train a flow by maximum likelihood and save it");
  auto* dataset_opt = train_cmd->add_option("--dataset", o.dataset, "built-in data set");
  auto* data_opt = train_cmd->add_option("--data", o.data_path, "CSV of training points");
  dataset_opt->excludes(data_opt);
  train_cmd->add_option("--n", o.n, "number of points to generate (default 3000)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--noise", o.noise, "noise of the generated set");
  train_cmd->add_option("--flow", o.flow.family, "realnvp | leaky-realnvp | nice | planar | radial")
      ->check(CLI::IsMember({"realnvp", "leaky-realnvp", "nice", "planar", "radial"}));
  train_cmd->add_option("--layers", o.flow.layers, "number of flow layers (default 12)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--hidden", o.flow.hidden, "hidden units per conditioner layer (default 32)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--depth", o.flow.depth, "hidden layers per conditioner (default 2)")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--activation", o.activation, "relu | gelu | tanh | elu | silu")
      ->check(CLI::IsMember({"relu", "gelu", "gelu_tanh", "tanh", "elu", "silu", "leaky_relu"}));
  train_cmd->add_option("--conditioner", o.conditioner, "separate s and t nets, or one shared net")
      ->check(CLI::IsMember({"separate", "shared"}));
  train_cmd->add_option("--batch", o.batch, "minibatch size (default 64)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--epochs", o.epochs, "epochs (default 300)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--patience", o.patience, "early-stopping patience in epochs, 0 = off (default 0: the averaged parameters of the last epoch)")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--lr", o.lr, "learning rate (default 3e-3)");
  train_cmd->add_option("--schedule", o.schedule, "cosine | constant learning rate")->check(CLI::IsMember({"cosine", "constant"}));
  train_cmd->add_option("--weight-decay", o.weight_decay, "weight decay (default 1e-2)");
  train_cmd->add_option("--clip", o.clip, "gradient-norm clipping, 0 = off");
  train_cmd->add_option("--jitter", o.jitter, "noise regularisation: Gaussian noise on training points, in units of each coordinate's standard deviation, 0 = off (default 0.03)");
  train_cmd->add_option("--average-decay", o.average_decay, "parameter averaging: decay of the moving average, 0 = off (default 0.998)");
  train_cmd->add_option("--optimizer", o.optimizer, "adamw | adam | sgd")->check(CLI::IsMember({"adamw", "adam", "sgd"}));
  train_cmd->add_option("--test-fraction", o.test_fraction, "held-out test share (default 0.1)");
  train_cmd->add_option("--validation-fraction", o.validation_fraction, "validation share (default 0.1)");
  train_cmd->add_option("--seed", o.seed, "random seed");
  train_cmd->add_option("--precision", o.precision, "float | double (default float)")->check(CLI::IsMember({"float", "double"}));
  train_cmd->add_option("--threads", o.threads, "threads (default 1)");
  auto* checkpoint_opt = train_cmd->add_option("--checkpoint", o.checkpoint_dir, "directory for checkpoints (model, optimizer and RNG state)");
  train_cmd->add_option("--checkpoint-every", o.checkpoint_every, "epochs between checkpoints (default 1)")->check(CLI::PositiveNumber);
  train_cmd->add_flag("--resume", o.resume, "continue from the checkpoint in --checkpoint DIR")->needs(checkpoint_opt);
  train_cmd->add_option("--out", o.out, "model file to write")->required();

  auto* logprob = app.add_subcommand("logprob", "log density of points under a model");
  logprob->add_option("--model", o.model_path, "model file")->required();
  logprob->add_option("--in", o.in_path, "CSV of points")->required();
  logprob->add_option("--out", o.out, "CSV of log densities")->required();

  auto* sample = app.add_subcommand("sample", "draw points from a model");
  sample->add_option("--model", o.model_path, "model file")->required();
  sample->add_option("--n", o.samples, "number of points")->required()->check(CLI::PositiveNumber);
  sample->add_option("--seed", o.seed, "random seed");
  sample->add_option("--out", o.out, "output CSV")->required();

  auto* plot = app.add_subcommand("plot", "PNG: data, samples and the model density side by side");
  plot->add_option("--model", o.model_path, "model file")->required();
  plot->add_option("--data", o.data_path, "CSV of data points to show");
  plot->add_option("--seed", o.seed, "random seed for the samples");
  plot->add_option("--out", o.out, "output PNG")->required();

  auto* animate = app.add_subcommand("animate", "GIF: base samples carried through the layers to data space");
  animate->add_option("--model", o.model_path, "model file")->required();
  animate->add_option("--n", o.samples, "number of points (default 1000)")->check(CLI::PositiveNumber);
  animate->add_option("--seed", o.seed, "random seed");
  animate->add_option("--out", o.out, "output GIF")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::fprintf(stderr, "error: %s (see --help)\n", message.c_str());
    return 2;
  }

  if (app.got_subcommand("datasets")) {
    for (const auto& info : datasets())
      std::printf("%-13s %s%s\n", info.name.c_str(), info.description.c_str(), info.has_density ? " [closed-form density]" : "");
    return 0;
  }
  if (app.got_subcommand("generate")) {
    require_writable_destination(o.out);
    Random rng(o.seed);
    const Matrix<double> points = generate_dataset(o.dataset, static_cast<Index>(o.n), rng, o.noise);
    write_csv(o.out, points, point_header(points.cols()));
    return 0;
  }
  if (app.got_subcommand("train")) {
    require(!o.dataset.empty() || !o.data_path.empty(), "train needs --dataset NAME or --data FILE.csv");
    require(std::isfinite(o.lr) && o.lr > 0, "--lr must be a positive number");
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "--weight-decay must be non-negative");
    require(std::isfinite(o.clip) && o.clip >= 0, "--clip must be non-negative");
    require(o.test_fraction >= 0 && o.test_fraction < 1, "--test-fraction must be in [0, 1)");
    require(o.average_decay >= 0 && o.average_decay < 1, "--average-decay must be in [0, 1)");
    require(std::isfinite(o.jitter) && o.jitter >= 0, "--jitter must be non-negative");
    require(o.validation_fraction >= 0 && o.validation_fraction < 1, "--validation-fraction must be in [0, 1)");
    set_threads(o.threads);
    if (!o.checkpoint_dir.empty() && !o.resume) {
      ::mkdir(o.checkpoint_dir.c_str(), 0755);  // an existing directory is fine
      require_writable_destination(o.checkpoint_dir + "/checkpoint.json");
    }
    Options resolved = o;
    resolved.flow.activation = parse_activation(o.activation);
    resolved.flow.conditioner = o.conditioner == "shared" ? Conditioner::shared : Conditioner::separate;
    return o.precision == "float" ? train_command<float>(resolved) : train_command<double>(resolved);
  }
  if (app.got_subcommand("logprob")) return with_model(o, [&](const auto& flow) { return logprob_command(o, flow); });
  if (app.got_subcommand("sample")) return with_model(o, [&](const auto& flow) { return sample_command(o, flow); });
  if (app.got_subcommand("plot")) return with_model(o, [&](const auto& flow) { return plot_command(o, flow); });
  return with_model(o, [&](const auto& flow) { return animate_command(o, flow); });
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return 1;
  }
}
