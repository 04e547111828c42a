// eigenflow train: fit a flow by maximum likelihood, save it, print the final NLLs.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <optional>
#include <string>

#include "options.hpp"

namespace eigenflow::cli {

/// The baseline line: a full-covariance Gaussian fitted to the training rows, scored on
/// the same held-out rows as the flow (test, else validation, else training), and a
/// warning when the flow does not beat it.
inline void print_gaussian_baseline(const DataSplit& split, double train_nll, double val_nll, double test_nll) {
  const bool test = split.test.rows() > 0, validation = split.validation.rows() > 0;
  const char* name = test ? "test_nll" : (validation ? "val_nll" : "train_nll");
  const double flow_nll = test ? test_nll : (validation ? val_nll : train_nll);
  const Matrix<double>& held_out = test ? split.test : (validation ? split.validation : split.train);
  try {
    const double nll = FullCovarianceGaussian::fit(split.train).mean_negative_log_likelihood(held_out);
    std::printf("baseline full-covariance gaussian %s=%s (flow better by %.4f nats)\n", name, format_nll(nll).c_str(), nll - flow_nll);
    std::fflush(stdout);  // the warning comes after the line it comments on
    if (!(flow_nll < nll))
      std::fprintf(stderr, "warning: the flow's %s (%s) is no better than a full-covariance Gaussian's (%s); try --patience, "
                           "fewer layers or more data\n", name, format_nll(flow_nll).c_str(), format_nll(nll).c_str());
  } catch (const ValueError& e) {
    std::printf("baseline full-covariance gaussian %s=nan (%s)\n", name, e.what());
  }
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
  options.keep_best = !o.keep_last;
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
  // Which parameters were saved: the last epoch's, or the best validation epoch's when clearly better.
  const bool last = result.history.empty() || result.kept_epoch == result.history.back().epoch;
  const std::string kept = std::to_string(result.kept_epoch) + (last ? " (last)" : " (best validation)");
  std::printf("final train_nll=%s val_nll=%s test_nll=%s seconds=%.2f kept_epoch=%s\n", format_nll(train_nll).c_str(),
              format_nll(val_nll).c_str(), format_nll(test_nll).c_str(), result.seconds, kept.c_str());
  print_gaussian_baseline(split, train_nll, val_nll, test_nll);
  return 0;
}

}  // namespace eigenflow::cli
