// The training loop: it learns, it is reproducible, early stopping restores
// the best parameters, divergence is caught with the last good parameters
// kept, and the tape's memory stays flat.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include <algorithm>
#include <limits>

using namespace eigenflow;

namespace {

FlowStack<double> small_realnvp(Random& rng) {
  FlowStack<double> flow(2);
  for (int k = 0; k < 4; ++k)
    flow.append(AffineCoupling<double>::make(alternating_mask(2, k % 2), {16, 2, Activation::relu}, Conditioner::separate,
                                             ScaleActivation::tanh, rng));
  return flow;
}

std::vector<Matrix<double>> values_of(FlowStack<double>& flow) {
  std::vector<Matrix<double>> out;
  for (auto* p : flow.parameters()) out.push_back(p->value);
  return out;
}

}  // namespace

TEST_CASE("training lowers the held-out NLL towards the data's entropy", "[train]") {
  Random rng(1);
  const Matrix<double> data = generate_dataset("blobs", 1200, rng);
  const DataSplit split = split_dataset(data, 0.2, 0.0, rng);
  FlowStack<double> flow = small_realnvp(rng);
  const Standardization s = Standardization::fit(split.train);
  flow.set_preprocess(s.shift, s.scale);
  const double before = mean_negative_log_likelihood(flow, split.validation);
  AdamW<double> optimizer(flow.parameters(), [] {
    AdamOptions o;
    o.learning_rate = 3e-3;
    return o;
  }());
  TrainOptions options;
  options.epochs = 40;
  options.batch_size = 64;
  const TrainResult result = train(flow, optimizer, split.train, split.validation, options);
  const double after = mean_negative_log_likelihood(flow, split.validation);
  Random entropy_rng(2);
  const double entropy = dataset_entropy("blobs", 1200, std::nullopt, 20000, entropy_rng);
  INFO("before " << before << ", after " << after << ", entropy " << entropy);
  CHECK(after < before - 0.5);
  CHECK(after < entropy + 0.15);  // two well-separated Gaussian blobs are easy
  CHECK(result.history.size() == 40);
  CHECK(result.steps == 40 * ((960 + 63) / 64));
}

TEST_CASE("training is reproducible from its seeds", "[train]") {
  auto run = [] {
    Random rng(3);
    const Matrix<double> data = generate_dataset("two-moons", 300, rng);
    FlowStack<double> flow = small_realnvp(rng);
    AdamW<double> optimizer(flow.parameters());
    TrainOptions options;
    options.epochs = 3;
    options.batch_size = 32;
    options.seed = 9;
    train(flow, optimizer, data, Matrix<double>(0, 2), options);
    return values_of(flow);
  };
  CHECK(run() == run());
}

TEST_CASE("early stopping stops and restores the best parameters", "[train]") {
  Random rng(4);
  const Matrix<double> data = generate_dataset("two-moons", 200, rng);
  const DataSplit split = split_dataset(data, 0.5, 0.0, rng);
  FlowStack<double> flow = small_realnvp(rng);
  AdamOptions o;
  o.learning_rate = 5e-2;  // large enough to overfit quickly and bounce
  AdamW<double> optimizer(flow.parameters(), o);
  std::vector<std::vector<Matrix<double>>> per_epoch;
  TrainOptions options;
  options.epochs = 200;
  options.batch_size = 16;
  options.patience = 5;
  options.on_epoch = [&](const EpochReport&) {
    per_epoch.push_back(values_of(flow));
    return true;
  };
  const TrainResult result = train(flow, optimizer, split.train, split.validation, options);
  CHECK(result.stopped_early);
  CHECK(result.history.size() == static_cast<std::size_t>(result.best_epoch + 5));
  CHECK(values_of(flow) == per_epoch[static_cast<std::size_t>(result.best_epoch - 1)]);
  CHECK(mean_negative_log_likelihood(flow, split.validation) == Approx(result.best_validation_nll).epsilon(1e-12));
}

TEST_CASE("parameter averaging follows its formula and is what validation sees", "[train]") {
  // One full-batch step per epoch, so on_epoch sees every iterate θ_t; the averaged run must end at
  // θ̄_T from θ̄_0 = θ_0, θ̄_t = d_t θ̄_{t−1} + (1 − d_t) θ_t, d_t = min(decay, (1 + t)/(10 + t)).
  const double decay = 0.9;
  Random data_rng(11);
  const Matrix<double> data = generate_dataset("two-moons", 120, data_rng);
  const Matrix<double> validation = generate_dataset("two-moons", 50, data_rng);
  auto run = [&](double average_decay, std::vector<std::vector<Matrix<double>>>* iterates, TrainResult* result) {
    Random rng(12);
    FlowStack<double> flow = small_realnvp(rng);
    if (iterates) iterates->push_back(values_of(flow));
    AdamW<double> optimizer(flow.parameters());
    TrainOptions options;
    options.epochs = 120;  // d_t reaches the cap 0.9 after t = 80
    options.batch_size = 0;
    options.average_decay = average_decay;
    options.keep_best = false;  // the last epoch's average is what is checked
    options.on_epoch = [&](const EpochReport&) {
      if (iterates) iterates->push_back(values_of(flow));
      return true;
    };
    *result = train(flow, optimizer, data, validation, options);
    return flow;
  };
  std::vector<std::vector<Matrix<double>>> iterates;
  TrainResult plain_result, averaged_result;
  run(0, &iterates, &plain_result);
  FlowStack<double> averaged = run(decay, nullptr, &averaged_result);

  std::vector<Matrix<double>> expected = iterates[0];
  for (std::size_t t = 1; t < iterates.size(); ++t) {
    const double d = std::min(decay, (1.0 + static_cast<double>(t)) / (10.0 + static_cast<double>(t)));
    for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = d * expected[i] + (1 - d) * iterates[t][i];
  }
  const std::vector<Matrix<double>> got = values_of(averaged);
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, (got[i] - expected[i]).cwiseAbs().maxCoeff());
  INFO("worst difference from the formula " << worst);
  CHECK(worst < 1e-12);
  // The iterates themselves are identical (averaging only observes them), and the reported
  // validation NLL is that of the average.
  CHECK(averaged_result.history.back().validation_nll ==
        Approx(mean_negative_log_likelihood(averaged, validation)).epsilon(1e-12));
  CHECK(averaged_result.history.back().train_nll == Approx(plain_result.history.back().train_nll).epsilon(1e-12));
  CHECK(averaged_result.history.back().validation_nll != Approx(plain_result.history.back().validation_nll).epsilon(1e-6));
}

TEST_CASE("a run that overfits ends with its best-validation parameters, unless told to keep the last", "[train]") {
  // (The best epoch replaces the last only when it is clearly better on the validation
  // set, detail::clearly_better; here it is by far.)
  // 20 training points and a wide stack: validation NLL falls, then rises.
  Random data_rng(21);
  const Matrix<double> data = generate_dataset("two-moons", 20, data_rng, 0.05);
  const Matrix<double> validation = generate_dataset("two-moons", 400, data_rng, 0.05);
  auto run = [&](bool keep_best, TrainResult& result) {
    Random rng(22);
    FlowStack<double> flow(2);
    for (int k = 0; k < 6; ++k)
      flow.append(AffineCoupling<double>::make(alternating_mask(2, k % 2), {64, 2, Activation::relu}, Conditioner::separate,
                                               ScaleActivation::tanh, rng));
    AdamOptions adam;
    adam.learning_rate = 3e-3;
    AdamW<double> optimizer(flow.parameters(), adam);
    TrainOptions options;
    options.epochs = 300;
    options.batch_size = 0;
    options.average_decay = 0.9;
    options.keep_best = keep_best;
    result = train(flow, optimizer, data, validation, options);
    return mean_negative_log_likelihood(flow, validation);
  };
  TrainResult best_run, last_run;
  const double kept_best = run(true, best_run), kept_last = run(false, last_run);
  REQUIRE(best_run.best_epoch < 300);  // it did overfit: the best epoch is not the last
  double lowest = std::numeric_limits<double>::infinity();
  for (const auto& report : best_run.history) lowest = std::min(lowest, report.validation_nll);
  CHECK(kept_best == Approx(lowest).epsilon(1e-12));
  CHECK(best_run.kept_epoch == best_run.best_epoch);  // far better than the last, beyond the validation noise
  CHECK(last_run.kept_epoch == 300);
  CHECK(kept_best == Approx(best_run.best_validation_nll).epsilon(1e-12));
  CHECK(kept_last == Approx(last_run.history.back().validation_nll).epsilon(1e-12));
  CHECK(kept_last > kept_best + 0.1);
}

TEST_CASE("the best epoch replaces the last only when clearly better, heavy tails or not", "[train]") {
  // Found on diabetes (sklearn): an early-stopped run kept a last epoch with validation NLL
  // 120 over a best one of −20, as one point's −5000 inflated the plain standard error.
  Random rng(23);
  const Index n = 2000;
  Eigen::ArrayXd noise(n), better(n), heavy(n), worse(n);
  for (Index i = 0; i < n; ++i) {
    noise(i) = rng.normal(0.001, 0.05);  // two near-identical models: keep the last
    better(i) = rng.normal(0.02, 0.05);  // a small gain far beyond the noise
    heavy(i) = rng.normal(0.1, 0.05);    // the last model gives three points log p ≈ −1000 ...
    worse(i) = rng.normal(-0.01, 0.05);
  }
  heavy(5) = heavy(500) = heavy(1500) = 1000;  // ... so the mean gain's plain standard error is huge
  const double mean = heavy.mean();
  REQUIRE(mean < 2 * std::sqrt((heavy - mean).square().sum() / double(n - 1) / double(n)));  // a plain t-test misses it
  Eigen::ArrayXd mostly_worse = worse;  // the last model is slightly better on most points, catastrophic on a few
  mostly_worse(7) = mostly_worse(70) = 2000;
  CHECK(detail::clearly_better(mostly_worse));
  CHECK_FALSE(detail::clearly_better(noise));
  CHECK(detail::clearly_better(better));
  CHECK(detail::clearly_better(heavy));
  CHECK_FALSE(detail::clearly_better(worse));
  CHECK_FALSE(detail::clearly_better(-heavy));
  CHECK_FALSE(detail::clearly_better(Eigen::ArrayXd()));
}

TEST_CASE("jitter makes the model fit the data convolved with the noise", "[train]") {
  // A learnable diagonal Gaussian fitted to N(0, 1) data with jitter σ = 0.75 converges to the
  // maximum-likelihood fit of N(0, 1 + σ²): standard deviation 1.25.
  Random rng(13);
  Matrix<double> data(4000, 1);
  for (Index i = 0; i < data.rows(); ++i) data(i, 0) = rng.normal();
  const double data_std = std::sqrt(data.array().square().mean() - std::pow(data.mean(), 2));
  FlowStack<double> flow(1);
  flow.set_base(std::make_unique<DiagonalGaussian<double>>(1));
  AdamOptions o;
  o.learning_rate = 2e-2;
  AdamW<double> optimizer(flow.parameters(), o);
  TrainOptions options;
  options.epochs = 60;
  options.batch_size = 200;
  options.jitter = RowVector<double>::Constant(1, 0.75);
  options.average_decay = 0.99;  // the average, not the noisy last iterate
  train(flow, optimizer, data, Matrix<double>(0, 1), options);
  const auto& base = dynamic_cast<const DiagonalGaussian<double>&>(flow.base());
  const double fitted_std = std::exp(base.log_std()(0, 0));
  const double expected = std::sqrt(data_std * data_std + 0.75 * 0.75);
  INFO("fitted std " << fitted_std << ", expected " << expected);
  // 60 epochs × 4000 noise draws: the noise's own sample variance is within ~1% of 0.5625.
  CHECK(std::abs(fitted_std - expected) < 0.02);
  CHECK(std::abs(fitted_std - data_std) > 0.2);  // without jitter it would have fitted data_std

  options.jitter = RowVector<double>::Constant(2, 0.1);
  CHECK_THROWS_WITH(train(flow, optimizer, data, Matrix<double>(0, 1), options), Catch::Contains("jitter"));
  options.jitter = RowVector<double>::Constant(1, -0.1);
  CHECK_THROWS_WITH(train(flow, optimizer, data, Matrix<double>(0, 1), options), Catch::Contains("jitter"));
  options.jitter.resize(0);
  options.average_decay = 1;
  CHECK_THROWS_WITH(train(flow, optimizer, data, Matrix<double>(0, 1), options), Catch::Contains("average decay"));
}

TEST_CASE("threads over the batch train as one thread does", "[train]") {
  // Workers split each batch's rows and their gradients are summed; only the order of the
  // floating-point sums differs from one thread (the split runs even without OpenMP).
  auto run = [](int threads) {
    Random rng(14);
    const Matrix<double> data = generate_dataset("two-moons", 1500, rng);  // batches 600, 600, 300
    FlowStack<double> flow = small_realnvp(rng);
    AdamW<double> optimizer(flow.parameters());
    TrainOptions options;
    options.epochs = 3;
    options.batch_size = 600;
    options.threads = threads;
    options.jitter = RowVector<double>::Constant(2, 0.05);
    const TrainResult result = train(flow, optimizer, data, Matrix<double>(0, 2), options);
    return std::make_pair(values_of(flow), result.history.back().train_nll);
  };
  const auto [one, one_nll] = run(1);
  const auto [two, two_nll] = run(2);
  double worst = 0;
  for (std::size_t i = 0; i < one.size(); ++i) worst = std::max(worst, (one[i] - two[i]).cwiseAbs().maxCoeff());
  INFO("worst parameter difference " << worst);
  CHECK(worst < 1e-10);
  CHECK(one_nll == Approx(two_nll).epsilon(1e-12));
}

TEST_CASE("a one-rank communicator trains the one-process model, plain or chunked", "[train][data-parallel]") {
  // The data-parallel path (shards, gathered first batch, reduced validation, chunked sums)
  // with one rank: tests/mpi runs it across ranks; here it runs in the suite and its sanitizers.
  Random data_rng(14);
  const Matrix<double> data = generate_dataset("two-moons", 500, data_rng);
  const DataSplit split = split_dataset(data, 0.2, 0.0, data_rng);
  auto run = [&](Communicator* communicator, Index chunk_rows, bool reversed) {
    Random rng(15);
    FlowStack<double> flow(2);
    flow.append(ActNorm<double>(2));
    flow.append(AffineCoupling<double>::make(alternating_mask(2, 0), {16, 2, Activation::relu}, Conditioner::separate,
                                             ScaleActivation::tanh, rng));
    AdamW<double> optimizer(flow.parameters());
    TrainOptions options;
    options.epochs = 5;
    options.batch_size = 64;
    options.threads = 1;
    options.jitter = RowVector<double>::Constant(2, 0.05);
    options.communicator = communicator;
    options.chunk_rows = chunk_rows;
    Matrix<double> train_rows = split.train;
    if (reversed) {  // the shard's rows in reverse, each naming its global index
      train_rows = split.train.colwise().reverse();
      for (Index i = 0; i < train_rows.rows(); ++i) options.shard_rows.push_back(train_rows.rows() - 1 - i);
    }
    const TrainResult result = train(flow, optimizer, train_rows, split.validation, options);
    return std::make_pair(values_of(flow), result.history.back().validation_nll);
  };
  SingleProcess alone;
  const auto plain = run(nullptr, 0, false);
  CHECK(run(&alone, 0, false) == plain);  // bit for bit
  CHECK(run(&alone, 0, true) == plain);
  const auto chunked = run(&alone, 16, false);
  CHECK(run(&alone, 16, true) == chunked);
  double worst = 0;
  for (std::size_t i = 0; i < plain.first.size(); ++i) worst = std::max(worst, (plain.first[i] - chunked.first[i]).cwiseAbs().maxCoeff());
  CHECK(worst < 1e-10);  // chunks add the same terms in another order: 40 steps of rounding
  CHECK_THROWS_WITH(run(nullptr, 16, false), Catch::Contains("need a communicator"));
  Random rng(15);
  FlowStack<double> flow = small_realnvp(rng);
  AdamW<double> optimizer(flow.parameters());
  TrainOptions options;
  options.communicator = &alone;
  options.shard_rows = {0, 0};
  CHECK_THROWS_WITH(train(flow, optimizer, Matrix<double>(split.train.topRows(2)), split.validation, options),
                    Catch::Contains("held by 2 ranks' shards"));
}

TEST_CASE("a diverging run stops with an error and keeps the last good parameters", "[train]") {
  Random rng(5);
  const Matrix<double> data = generate_dataset("two-moons", 200, rng);
  FlowStack<double> flow(2);
  flow.append(LeakyReLU<double>(2, 0.5));
  AdamW<double> optimizer(flow.parameters());
  std::vector<Matrix<double>> after_first_epoch;
  TrainOptions options;
  options.epochs = 5;
  options.batch_size = 50;
  options.on_epoch = [&](const EpochReport& report) {
    after_first_epoch = values_of(flow);
    if (report.epoch == 1) flow.parameters()[0]->value(0, 0) = std::nan("");  // poison the slope
    return true;
  };
  CHECK_THROWS_AS(train(flow, optimizer, data, Matrix<double>(0, 2), options), NumericalError);
  CHECK(flow.parameters()[0]->value.allFinite());
}

TEST_CASE("the training loop rejects impossible settings", "[train]") {
  Random rng(6);
  FlowStack<double> flow = small_realnvp(rng);
  AdamW<double> optimizer(flow.parameters());
  const Matrix<double> data = generate_dataset("two-moons", 100, rng);
  TrainOptions options;
  options.epochs = 0;
  CHECK_THROWS_WITH(train(flow, optimizer, data, Matrix<double>(0, 2), options), Catch::Contains("epochs"));
  options.epochs = 1;
  options.patience = 3;
  CHECK_THROWS_WITH(train(flow, optimizer, data, Matrix<double>(0, 2), options), Catch::Contains("validation"));
  options.patience = 0;
  Matrix<double> bad = data;
  bad(3, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(train(flow, optimizer, bad, Matrix<double>(0, 2), options), Catch::Contains("row 3"));
}

TEST_CASE("a run that ends worse on validation than its start keeps the start", "[train]") {
  // The start is exactly the validation data's density (identity couplings on a standard
  // normal base; validation drawn from N(0, I)); the training rows are moons, so every
  // epoch moves away from it and the kept model is the start, to the last digit.
  Random data_rng(31);
  const Matrix<double> train_rows = generate_dataset("two-moons", 200, data_rng, 0.05);
  const Matrix<double> validation = data_rng.normal_matrix<double>(500, 2);
  Random rng(32);
  FlowStack<double> flow(2);
  for (int k = 0; k < 4; ++k)
    flow.append(AffineCoupling<double>::make(alternating_mask(2, k % 2), {16, 2, Activation::relu}, Conditioner::separate,
                                             ScaleActivation::tanh, rng, true));
  const std::vector<Matrix<double>> start = values_of(flow);
  // −mean log N(x; 0, I), computed here without the flow
  const double gaussian_nll = std::log(2 * std::acos(-1.0)) + 0.5 * validation.rowwise().squaredNorm().mean();
  AdamW<double> optimizer(flow.parameters());
  TrainOptions options;
  options.epochs = 30;
  options.batch_size = 50;
  const TrainResult result = train(flow, optimizer, train_rows, validation, options);
  CHECK(result.start_validation_nll == Approx(gaussian_nll).epsilon(1e-12));
  REQUIRE(result.best_validation_nll > result.start_validation_nll);  // training did move away from it
  CHECK(result.kept_epoch == 0);
  CHECK(values_of(flow) == start);
  CHECK(mean_negative_log_likelihood(flow, validation) == Approx(gaussian_nll).epsilon(1e-12));

  // Validated on moons too, the same run keeps a trained epoch: the rule only ever removes a loss.
  Random rng2(32);
  FlowStack<double> trained(2);
  for (int k = 0; k < 4; ++k)
    trained.append(AffineCoupling<double>::make(alternating_mask(2, k % 2), {16, 2, Activation::relu}, Conditioner::separate,
                                                ScaleActivation::tanh, rng2, true));
  AdamW<double> optimizer2(trained.parameters());
  const Matrix<double> moons_validation = generate_dataset("two-moons", 500, data_rng, 0.05);
  const TrainResult moons = train(trained, optimizer2, train_rows, moons_validation, options);
  CHECK(moons.kept_epoch >= 1);
  CHECK(mean_negative_log_likelihood(trained, moons_validation) < moons.start_validation_nll - 0.5);
}
