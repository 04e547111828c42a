// The eigenflow command line: generate data, train a flow, evaluate
// densities, sample, and draw pictures. Exit 0 on success, 2 on a usage
// error, 1 on any other error, with one line "error: ..." on stderr and no
// output file left behind.
#include <CLI/CLI.hpp>
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#ifdef EIGENFLOW_WITH_MPI
#include <eigenflow/mpi/mpi_communicator.hpp>
#endif

#include "commands.hpp"  // the commands themselves, compiled once in eigenflow_cli_commands
#include "context.hpp"
#include "data_parallel_command.hpp"
#include "options.hpp"

namespace {

using namespace eigenflow;
using namespace eigenflow::cli;

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

/// ranks: under mpirun with more than one process, this process's place among them (only
/// train runs then: data-parallel); null otherwise.
int run(int argc, char** argv, Communicator* ranks) {
  CLI::App app{"eigenflow: normalizing flows"};
  std::vector<std::string> target_names;  // the built-in targets, as the library lists them
  for (const auto& info : targets()) target_names.push_back(info.name);
  app.require_subcommand(1);
  Options o;

  app.add_subcommand("datasets", "list the built-in data sets");

  auto* generate = app.add_subcommand("generate", "write points of a built-in data set to a CSV file");
  generate->add_option("--dataset", o.dataset, "data set name (see 'eigenflow datasets')")->required();
  generate->add_option("--n", o.n, "number of points")->check(CLI::PositiveNumber);
  generate->add_option("--noise", o.noise, "noise standard deviation, where the set has one");
  generate->add_option("--dim", o.dim, "dimension, for the sets that take one (mixed-moons: default 8)")->check(CLI::PositiveNumber);
  generate->add_option("--seed", o.seed, "random seed");
  generate->add_option("--out", o.out, "output CSV")->required();

  auto* train_cmd = app.add_subcommand("train", "train a flow by maximum likelihood and save it");
  auto* dataset_opt = train_cmd->add_option("--dataset", o.dataset, "built-in data set");
  auto* data_opt = train_cmd->add_option("--data", o.data_path, "CSV of training points");
  dataset_opt->excludes(data_opt);
  train_cmd->add_option("--validation-data", o.validation_path, "CSV of validation points (instead of --validation-fraction of the data)");
  train_cmd->add_option("--test-data", o.test_path, "CSV of test points (instead of --test-fraction of the data)");
  train_cmd->add_option("--n", o.n, "number of points to generate (default 3000)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--noise", o.noise, "noise of the generated set");
  train_cmd->add_option("--dim", o.dim, "dimension of the generated set, where it takes one (mixed-moons: default 8)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--flow", o.flow.family, "realnvp | leaky-realnvp | nice | glow | planar | radial | maf | iaf | nsf | nsf-ar | cnf | subspace "
                         "(default: realnvp for 2D data; beyond 2D subspace, or nsf for conditional, bounded or dequantised data)")
      ->check(CLI::IsMember({"realnvp", "leaky-realnvp", "nice", "glow", "planar", "radial", "maf", "iaf", "nsf", "nsf-ar", "cnf", "subspace"}));
  train_cmd->add_option("--active", o.active, "subspace flow: fit k = K non-Gaussian coordinates (0 to D) instead of searching k on validation");
  train_cmd->add_option("--budget", o.budget, "subspace flow: seconds for the whole search over k; it stops (and says so) when they run out "
                        "(default " + std::to_string(static_cast<int>(subspace_default_budget)) + ")");
  train_cmd->add_option("--layers", o.flow.layers, "number of flow layers (default: 12; glow, maf, iaf 8; nsf 6; nsf-ar and subspace 4; cnf 1)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--hidden", o.flow.hidden, "hidden units per conditioner layer (default: 32; maf, iaf, nsf-ar and cnf's mlp dynamics 64)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--mix", o.flow.mix, "coupling and autoregressive flows: what goes between their layers, none | permute (random permutations) | lu (learned invertible linear maps) (default: lu for coupling flows beyond 2D, else none)")
      ->check(CLI::IsMember({"none", "permute", "lu"}));
  train_cmd->add_flag("--actnorm", o.flow.actnorm, "coupling and autoregressive flows: an ActNorm before every layer (initialised from the first batch)");
  train_cmd->add_flag("--batch-norm", o.flow.batch_norm, "coupling and autoregressive flows: a batch-norm layer between their layers (batch statistics in training, the training data's in evaluation)");
  train_cmd->add_option("--bins", o.bins, "spline bins of nsf and nsf-ar (default 8; nsf beyond 2D 4)")->check(CLI::Range(2, 128));
  train_cmd->add_option("--tail-bound", o.flow.spline.tail_bound, "nsf, nsf-ar: the splines act on [-B, B] of the standardised data, identity outside (default 5)");
  train_cmd->add_option("--order", o.flow.order, "maf, iaf, nsf-ar: order between layers, natural | reverse (alternating) | random (default reverse)")
      ->check(CLI::IsMember({"natural", "reverse", "random"}));
  train_cmd->add_option("--depth", o.flow.depth, "hidden layers per conditioner (default 2)")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--activation", o.activation, "relu | gelu | tanh | elu | silu")
      ->check(CLI::IsMember({"relu", "gelu", "gelu_tanh", "tanh", "elu", "silu", "leaky_relu"}));
  train_cmd->add_option("--conditioner", o.conditioner, "separate s and t nets, or one shared net")
      ->check(CLI::IsMember({"separate", "shared"}));
  train_cmd->add_option("--batch", o.batch, "minibatch size (default 64, doubled up to 512 while an epoch would exceed 500 steps)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--epochs", o.epochs, "epochs (default: 300 for 2D data; beyond 2D about 15000 steps, 30 to 300 epochs)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--patience", o.patience, "early stopping after this many epochs without a better validation NLL, 0 = off (default max(20, epochs/2))")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--start", o.start, "gaussian: a whitening layer first (ZCA, fitted to the training rows), so the flow starts as "
                                           "their full-covariance Gaussian and never ends worse on validation; standard: the diagonal one "
                                           "(default standard)")
      ->check(CLI::IsMember({"gaussian", "standard"}));
  train_cmd->add_flag("--keep-last", o.keep_last, "save the last epoch's (averaged) parameters instead of those of the best validation epoch");
  train_cmd->add_option("--lr", o.lr, "learning rate (default 3e-3; cnf 1e-2)");
  train_cmd->add_option("--schedule", o.schedule, "cosine | constant learning rate")->check(CLI::IsMember({"cosine", "constant"}));
  train_cmd->add_option("--weight-decay", o.weight_decay, "weight decay (default 1e-2 for 2D data; beyond 2D 1600/N for N training rows, between 0.1 and 1)")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--clip", o.clip, "gradient-norm clipping, 0 = off");
  train_cmd->add_option("--jitter", o.jitter, "noise regularisation: Gaussian noise on training points, in units of each coordinate's standard deviation, 0 = off (default 0.03; 0 with --dequantize or --bounded)")->check(CLI::NonNegativeNumber);
  train_cmd->add_flag("--dequantize", o.dequantize, "every column holds integers: fit the density of x + u, u ~ U[0,1), report bits per dimension; samples are floored back to integers");
  train_cmd->add_option("--bounded", o.bounded, "LO,HI: the data lie in [LO, HI]; a logit map (saved in the model) carries them to R^D");
  train_cmd->add_option("--logit-alpha", o.logit_alpha, "with --bounded: the logit's shrink alpha, y = alpha + (1 - 2 alpha)(x - LO)/(HI - LO) (default 1e-3)")
      ->check(CLI::Range(0.0, 0.499));
  train_cmd->add_option("--average-decay", o.average_decay, "parameter averaging: decay of the moving average, 0 = off (default 0.998)");
  train_cmd->add_option("--optimizer", o.optimizer, "adamw | adam | sgd")->check(CLI::IsMember({"adamw", "adam", "sgd"}));
  train_cmd->add_option("--test-fraction", o.test_fraction, "held-out test share (default 0.1)");
  train_cmd->add_option("--validation-fraction", o.validation_fraction, "validation share (default 0.1)");
  train_cmd->add_option("--seed", o.seed, "random seed");
  train_cmd->add_option("--precision", o.precision, "float | double (default float)")->check(CLI::IsMember({"float", "double"}));
  train_cmd->add_option("--threads", o.threads, "threads (default 0: every core, one per 256 rows of a batch)");
  auto* checkpoint_opt = train_cmd->add_option("--checkpoint", o.checkpoint_dir, "directory for checkpoints (model, optimizer and RNG state)");
  train_cmd->add_option("--checkpoint-every", o.checkpoint_every, "epochs between checkpoints (default 1)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--chunk-rows", o.chunk_rows,
                        "sum the gradient over chunks of C rows in a fixed order: the same model file, bit for bit, "
                        "for any number of mpirun ranks and in one process (default 0: off)")
      ->check(CLI::NonNegativeNumber);
  train_cmd->add_flag("--resume", o.resume, "continue from the checkpoint in --checkpoint DIR")->needs(checkpoint_opt);
  auto* context_columns_opt = train_cmd->add_option("--context-columns", o.context_columns,
      "conditional model p(x | c): the last K columns of the data are the context c (rotated-moons: 1)")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--context", o.context_names, "conditional model p(x | c): the context columns by header name, NAME,...")
      ->excludes(context_columns_opt);
  train_cmd->add_flag("--conditional-base", o.conditional_base, "conditional model: a diagonal Gaussian base whose mean and log-std are an MLP of c");
  train_cmd->add_option("--dynamics", o.flow.cnf.dynamics, "cnf: hyper-planar (seed 003: planar units from a hypernetwork of t) | mlp (FFJORD: an MLP of [z, t]) (default mlp)")
      ->check(CLI::IsMember({"hyper-planar", "mlp"}));
  train_cmd->add_option("--width", o.flow.cnf.width, "cnf with hyper-planar dynamics: planar units (default 64)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--solver", o.flow.cnf.solver, "cnf: dopri5 (adaptive, to --rtol/--atol) | rk4 (--steps fixed steps) (default dopri5)")
      ->check(CLI::IsMember({"dopri5", "rk4"}));
  train_cmd->add_option("--steps", o.flow.cnf.steps, "cnf with --solver rk4: steps over t in [0, 1] (default 8)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--rtol", o.flow.cnf.rtol, "cnf with dopri5: relative tolerance (default 1e-3)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--atol", o.flow.cnf.atol, "cnf with dopri5: absolute tolerance (default 1e-3)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--gradient", o.flow.cnf.gradient, "cnf: backprop (through the solver's steps) | adjoint (Chen et al. 2018; memory independent of the steps) (default backprop)")
      ->check(CLI::IsMember({"backprop", "adjoint"}));
  train_cmd->add_option("--trace", o.flow.cnf.trace, "cnf, in training: exact | gaussian | rademacher (Hutchinson's estimator; evaluation is always exact) (default exact)")
      ->check(CLI::IsMember({"exact", "gaussian", "rademacher"}));
  train_cmd->add_option("--kinetic", o.flow.cnf.kinetic, "cnf: RNODE weight of the kinetic energy integral of |f|^2 (default 0.01)")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--jacobian-penalty", o.flow.cnf.jacobian, "cnf: RNODE weight of the integral of |df/dz|_F^2 (default 0.01)")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--out", o.out, "model file to write")->required();

  auto* fit = app.add_subcommand("fit", "variational inference: fit a flow to an unnormalised target density by reverse KL and save it");
  fit->add_option("--target", o.target, "u1 | u2 | u3 | u4 | banana | funnel | ring")->required()
      ->check(CLI::IsMember(target_names));
  fit->add_option("--flow", o.flow.family, "planar | radial (in the sampling direction) | realnvp | nsf | iaf (default planar)")
      ->check(CLI::IsMember({"planar", "radial", "realnvp", "nsf", "iaf"}));
  fit->add_option("--layers", o.flow.layers, "number of flow layers (default: planar, radial 32; realnvp 12; iaf 8; nsf 6)")->check(CLI::PositiveNumber);
  fit->add_option("--hidden", o.flow.hidden, "hidden units per conditioner layer (realnvp, nsf 32; iaf 64)")->check(CLI::PositiveNumber);
  fit->add_option("--steps", o.steps, "optimizer steps (default 40000)")->check(CLI::PositiveNumber);
  fit->add_option("--batch", o.fit_batch, "base samples per step (default 256)")->check(CLI::PositiveNumber);
  fit->add_option("--lr", o.fit_lr, "Adam learning rate (default 1e-2, cosine-decayed to 1/100 of it)");
  fit->add_option("--schedule", o.schedule, "cosine | constant learning rate")->check(CLI::IsMember({"cosine", "constant"}));
  fit->add_option("--anneal", o.anneal, "steps over which the target's weight beta rises from 0.01 to 1, 0 = off (default: half the steps)")
      ->check(CLI::NonNegativeNumber);
  fit->add_option("--clip", o.fit_clip, "gradient-norm clipping, 0 = off (default 5)");
  fit->add_option("--samples", o.fit_samples, "importance samples for the final log Z estimate (default 100000)")->check(CLI::Range(2LL, 100000000LL));
  fit->add_option("--seed", o.seed, "random seed");
  fit->add_option("--precision", o.precision, "float | double (default float)")->check(CLI::IsMember({"float", "double"}));
  fit->add_option("--out", o.out, "model file to write")->required();

  auto* logprob = app.add_subcommand("logprob", "log density of points under a model");
  logprob->add_option("--model", o.model_path, "model file")->required();
  logprob->add_option("--in", o.in_path, "CSV of points")->required();
  logprob->add_option("--out", o.out, "CSV of log densities")->required();
  logprob->add_option("--draws", o.draws, "dequantized models: uniform draws per point for the estimate of log P (default 16)")->check(CLI::PositiveNumber);
  logprob->add_option("--seed", o.seed, "dequantized models: random seed of the draws");
  auto* logprob_columns = logprob->add_option("--context-columns", o.context_columns,
      "conditional models: the last K columns are the context (default: the model's K)")->check(CLI::NonNegativeNumber);
  logprob->add_option("--context", o.context_names, "conditional models: the context columns by header name, NAME,...")
      ->excludes(logprob_columns);

  auto* sample = app.add_subcommand("sample", "draw points from a model");
  sample->add_option("--model", o.model_path, "model file")->required();
  sample->add_option("--n", o.samples, "number of points (with --context-file: one per row unless given)")->check(CLI::PositiveNumber);
  sample->add_option("--seed", o.seed, "random seed");
  auto* sample_context = sample->add_option("--context", o.context_values, "conditional models: one context v1,... for every point");
  sample->add_option("--context-file", o.context_file, "conditional models: a CSV of contexts, one point per row")->excludes(sample_context);
  sample->add_option("--out", o.out, "output CSV")->required();

  auto* plot = app.add_subcommand("plot", "PNG: data, samples and the model density side by side");
  plot->add_option("--model", o.model_path, "model file")->required();
  auto* plot_data = plot->add_option("--data", o.data_path, "CSV of data points to show");
  plot->add_option("--target", o.target, "a variational-inference target to show (instead of data): u1 | u2 | u3 | u4 | banana | funnel | ring")
      ->check(CLI::IsMember(target_names))->excludes(plot_data);
  plot->add_option("--seed", o.seed, "random seed for the samples");
  plot->add_option("--context", o.context_values, "conditional models: draw p(x | c) at this context v1,...");
  plot->add_option("--out", o.out, "output PNG")->required();

  auto* animate = app.add_subcommand("animate", "GIF: base samples carried through the layers to data space");
  animate->add_option("--model", o.model_path, "model file")->required();
  animate->add_option("--n", o.samples, "number of points (default 1000)")->check(CLI::PositiveNumber);
  animate->add_option("--seed", o.seed, "random seed");
  animate->add_option("--context", o.context_values, "conditional models: animate p(x | c) at this context v1,...");
  animate->add_option("--out", o.out, "output GIF")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    if (!ranks || ranks->rank() == 0) std::fprintf(stderr, "error: %s (see --help)\n", message.c_str());  // every rank parses alike
    return 2;
  }

  if (app.got_subcommand("datasets")) {
    for (const auto& info : datasets())
      std::printf("%-13s %s%s\n", info.name.c_str(), info.description.c_str(),
                  info.has_density ? (info.context_dim > 0 ? " [closed-form conditional density]" : " [closed-form density]") : "");
    return 0;
  }
  if (app.got_subcommand("generate")) {
    require_writable_destination(o.out);
    Random rng(o.seed);
    const Matrix<double> points = generate_dataset(o.dataset, static_cast<Index>(o.n), rng, o.noise, o.dim);
    const Index context_dim = dataset_info(o.dataset).context_dim;  // conditional sets: the context last
    write_csv(o.out, points, points_and_context_header(points.cols() - context_dim, context_dim));
    return 0;
  }
  require(!ranks || app.got_subcommand("train"),
          "under mpirun only train runs (data-parallel); run the other commands as one process");
  if (app.got_subcommand("train")) {
    require(!o.dataset.empty() || !o.data_path.empty(), "train needs --dataset NAME or --data FILE.csv");
    const Options resolved = resolved_train_options(o, train_cmd->count("--activation") > 0, train_cmd->count("--lr") > 0);
    set_threads(o.threads);
    if (!o.checkpoint_dir.empty() && !o.resume) {
      ::mkdir(o.checkpoint_dir.c_str(), 0755);  // an existing directory is fine
      require_writable_destination(o.checkpoint_dir + "/checkpoint.json");
    }
    if (ranks)
      return o.precision == "float" ? train_data_parallel_command<float>(resolved, *ranks)
                                    : train_data_parallel_command<double>(resolved, *ranks);
    return o.precision == "float" ? train_command<float>(resolved) : train_command<double>(resolved);
  }
  if (app.got_subcommand("fit")) {
    if (fit->count("--flow") == 0) o.flow.family = "planar";
    return o.precision == "float" ? fit_command<float>(o) : fit_command<double>(o);
  }
  if (app.got_subcommand("logprob")) return with_model(o, [&](const auto& flow) { return logprob_command(o, flow); });
  if (app.got_subcommand("sample")) {
    if (sample->count("--n") == 0) {
      require(!o.context_file.empty(), "sample needs --n N (or --context-file C.csv, one point per row)");
      o.samples = 0;  // one per context row
    }
    return with_model(o, [&](const auto& flow) { return sample_command(o, flow); });
  }
  if (app.got_subcommand("plot")) return with_model(o, [&](const auto& flow) { return plot_command(o, flow); });
  return with_model(o, [&](const auto& flow) { return animate_command(o, flow); });
}

}  // namespace

/// Started by mpirun (or another MPI launcher) with more than one process?
bool launched_in_parallel() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* value = std::getenv(name)) return std::atoi(value) > 1;
  return false;
}

/// The error line: with several ranks, rank 0's (every rank meets the same flag or
/// numerical error), or a rank's own failure (ShardError), never a RemoteError's echo.
int report(const std::exception& e, Communicator* ranks, int status) {
  if (dynamic_cast<const RemoteError*>(&e)) return status;
  if (ranks && ranks->rank() != 0 && !dynamic_cast<const ShardError*>(&e)) return status;
  std::string message = e.what();
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::fflush(stderr);
  return status;
}

/// Collective, before anything can fail: whether every rank was given rank 0's arguments
/// (an MPMD launch can differ), so that every later flag error is met by every rank alike.
bool same_command_on_every_rank(int argc, char** argv, Communicator& ranks) {
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a over the arguments, NUL-separated
  for (int i = 1; i < argc; ++i)
    for (const char* c = argv[i];; ++c) {
      hash = (hash ^ static_cast<unsigned char>(*c)) * 1099511628211ULL;
      if (*c == '\0') break;
    }
  const std::vector<double> all = ranks.gather({static_cast<double>(hash >> 32), static_cast<double>(hash & 0xffffffffULL)});
  for (std::size_t k = 2; k < all.size(); ++k)
    if (all[k] != all[k % 2]) return false;
  return true;
}

int main(int argc, char** argv) {
#ifdef EIGENFLOW_WITH_MPI
  std::unique_ptr<MpiSession> session;  // (not std::optional: GCC 12 at -O1 warns it "may be used uninitialized")
  std::unique_ptr<MpiCommunicator> world;
  if (launched_in_parallel()) {
    session = std::make_unique<MpiSession>(argc, argv);
    world = std::make_unique<MpiCommunicator>();
    if (world->rank() != 0 && !std::freopen("/dev/null", "w", stdout)) return 1;  // rank 0 prints
  }
  Communicator* ranks = world.get();
  if (ranks && !same_command_on_every_rank(argc, argv, *ranks)) {
    if (ranks->rank() == 0)
      std::fprintf(stderr, "error: under mpirun every rank must run the same command line; some rank's differs from rank 0's\n");
    return 2;
  }
#else
  Communicator* ranks = nullptr;
  if (launched_in_parallel()) {
    std::fprintf(stderr, "error: this eigenflow was built without MPI; data-parallel training needs libopenmpi-dev at build time\n");
    return 1;
  }
#endif
  try {
    return run(argc, argv, ranks);
  } catch (const UsageError& e) {
    return report(e, ranks, 2);
  } catch (const IoError& e) {
    const int status = report(e, ranks, 1);
#ifdef EIGENFLOW_WITH_MPI
    // A file only one rank writes (the model, a checkpoint): the others may be waiting in a
    // collective call that will never come; end them.
    if (ranks) MPI_Abort(MPI_COMM_WORLD, status);
#endif
    return status;
  } catch (const std::exception& e) {
    return report(e, ranks, 1);
  }
}
