// Data-parallel training over MPI (run under mpirun with 1, 2 and 4 ranks):
// every rank trains on its shard of the data and ends with the model one
// process trains on all of it, to the rounding of the gradient sums; with the
// ordered reduction bit-identically from run to run; and input one rank
// refuses ends the run on every rank instead of leaving the others waiting.
//
// Every rank runs every test case in the same order (each is collective), so
// checks use CHECK, never REQUIRE: a rank leaving a case early would leave
// the others waiting in the next collective call. Each rank runs Catch's own
// main (tests/catch_main.cpp) and reports for itself; mpirun fails when any does.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>
#include <eigenflow/mpi/mpi_communicator.hpp>

#include <algorithm>
#include <memory>

using namespace eigenflow;

namespace {

// MPI for the life of the process: initialised before Catch's main, finalised after it.
MpiSession mpi_for_the_process;

MpiCommunicator& world() {
  static MpiCommunicator communicator;
  return communicator;
}

template <class S>
FlowStack<S> small_glow(Random& rng) {
  FlowStack<S> flow(2);
  for (int k = 0; k < 2; ++k) {
    flow.append(ActNorm<S>(2));  // initialised from the first batch: all of it, on every rank
    flow.append(AffineCoupling<S>::make(alternating_mask<S>(2, k % 2), {16, 2, Activation::relu}, Conditioner::separate,
                                        ScaleActivation::tanh, rng));
  }
  return flow;
}

// Coupling, batch normalisation (population statistics), coupling.
template <class S>
FlowStack<S> small_batch_norm_flow(Random& rng) {
  FlowStack<S> flow(2);
  flow.append(AffineCoupling<S>::make(alternating_mask<S>(2, 0), {16, 2, Activation::relu}, Conditioner::separate,
                                      ScaleActivation::tanh, rng));
  flow.append(BatchNorm<S>(2));
  flow.append(AffineCoupling<S>::make(alternating_mask<S>(2, 1), {16, 2, Activation::relu}, Conditioner::separate,
                                      ScaleActivation::tanh, rng));
  return flow;
}

// The batch-norm layers' means and variances, in order.
template <class S>
std::vector<double> statistics_of(const FlowStack<S>& flow) {
  std::vector<double> out;
  for (std::size_t k = 0; k < flow.size(); ++k)
    if (const auto* norm = dynamic_cast<const BatchNorm<S>*>(&flow.layer(k)))
      for (Index j = 0; j < norm->dim(); ++j) {
        out.push_back(static_cast<double>(norm->mean()(j)));
        out.push_back(static_cast<double>(norm->variance()(j)));
      }
  return out;
}

template <class S>
std::vector<double> flat_values(FlowStack<S>& flow) {
  std::vector<double> out;
  for (auto* p : flow.parameters())
    for (Index i = 0; i < p->value.size(); ++i) out.push_back(static_cast<double>(p->value.data()[i]));
  return out;
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = a.size() == b.size() ? 0.0 : std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

struct Run {
  std::vector<double> values, statistics;
  TrainResult result;
};

// Trains the small flow on `train_rows` / `validation_rows` (this rank's shards when
// `communicator` is set, everything otherwise), from the same seeds on every rank.
template <class S>
Run train_on(const Matrix<double>& train_rows, const Matrix<double>& validation_rows, Communicator* communicator,
             std::vector<Index> shard_rows = {}, bool dequantize = false, Index chunk_rows = 0, Index epochs = 6,
             bool batch_norm = false) {
  Random rng(7);
  FlowStack<S> flow = batch_norm ? small_batch_norm_flow<S>(rng) : small_glow<S>(rng);
  AdamW<S> optimizer(flow.parameters());
  TrainOptions options;
  options.epochs = epochs;
  options.batch_size = 64;
  options.chunk_rows = chunk_rows;
  options.threads = 1;
  options.seed = 11;
  options.average_decay = 0.9;
  options.patience = 4;
  options.jitter = RowVector<double>::Constant(2, dequantize ? 0.0 : 0.05);
  if (dequantize) options.dequantize = {0, 1};
  options.communicator = communicator;
  options.shard_rows = std::move(shard_rows);
  Run run;
  run.result = train(flow, optimizer, Matrix<S>(train_rows.cast<S>()), Matrix<S>(validation_rows.cast<S>()), options);
  run.values = flat_values(flow);
  run.statistics = statistics_of(flow);
  return run;
}

// Rows [r·n/P, (r+1)·n/P) of x: rank r's contiguous shard.
Matrix<double> my_shard(const Matrix<double>& x) {
  const Index p = world().size(), r = world().rank(), n = x.rows();
  return x.middleRows(r * n / p, (r + 1) * n / p - r * n / p);
}

struct Data {
  Matrix<double> train, validation;
};
Data moons() {
  Random rng(5);
  const Matrix<double> data = generate_dataset("two-moons", 700, rng);
  const DataSplit split = split_dataset(data, 0.2, 0.0, rng);
  return {split.train, split.validation};
}

// Every rank's copy of `values` is the same, bit for bit.
bool same_on_every_rank(const std::vector<double>& values) {
  const std::vector<double> all = world().gather(values);
  for (std::size_t at = 0; at < all.size(); ++at)
    if (all[at] != values[at % values.size()]) return false;
  return true;
}

}  // namespace

TEST_CASE("P ranks train the model one process trains, to the rounding of the sums", "[mpi]") {
  const Data data = moons();  // 560 training rows: batches of 64 and a remainder of 48
  const Run alone = train_on<double>(data.train, data.validation, nullptr);
  const Run together = train_on<double>(my_shard(data.train), my_shard(data.validation), &world());
  INFO("ranks " << world().size() << ", worst parameter difference " << max_difference(alone.values, together.values));
  // Σ over ranks adds the same terms in another order: rounding of ~1e-16 per step, grown
  // over 54 steps of Adam (measured: 4e-16 at P = 2 and 4). One row in the wrong place
  // moves the parameters by ~1e-4.
  CHECK(max_difference(alone.values, together.values) < 1e-12);
  CHECK(together.result.steps == alone.result.steps);
  CHECK(together.result.kept_epoch == alone.result.kept_epoch);
  CHECK(together.result.history.back().train_nll == Approx(alone.result.history.back().train_nll).epsilon(1e-12));
  CHECK(together.result.history.back().validation_nll == Approx(alone.result.history.back().validation_nll).epsilon(1e-12));
  CHECK(same_on_every_rank(together.values));
  if (world().size() == 1) CHECK(max_difference(alone.values, together.values) == 0);  // the same additions
}

TEST_CASE("in float, the ranks' model is the one process's to float rounding", "[mpi]") {
  const Data data = moons();
  const Run alone = train_on<float>(data.train, data.validation, nullptr);
  const Run together = train_on<float>(my_shard(data.train), my_shard(data.validation), &world());
  INFO("worst parameter difference " << max_difference(alone.values, together.values));
  CHECK(max_difference(alone.values, together.values) < 1e-5);  // measured: 1.8e-7 (float's ε is 6e-8)
  CHECK(same_on_every_rank(together.values));
}

TEST_CASE("shards need not be contiguous: each row names its global index", "[mpi]") {
  const Data data = moons();
  const Run alone = train_on<double>(data.train, data.validation, nullptr, {}, false);
  // Rows dealt round-robin: rank r holds global rows r, r + P, r + 2P, …
  std::vector<Index> rows;
  for (Index i = world().rank(); i < data.train.rows(); i += world().size()) rows.push_back(i);
  Matrix<double> shard(static_cast<Index>(rows.size()), 2);
  for (std::size_t k = 0; k < rows.size(); ++k) shard.row(static_cast<Index>(k)) = data.train.row(rows[k]);
  const Run together = train_on<double>(shard, my_shard(data.validation), &world(), rows);
  INFO("worst parameter difference " << max_difference(alone.values, together.values));
  CHECK(max_difference(alone.values, together.values) < 1e-12);
}

TEST_CASE("dequantisation noise is the one process's noise on every row", "[mpi]") {
  Random rng(9);
  Matrix<double> counts(300, 2);
  for (Index i = 0; i < counts.rows(); ++i)
    for (Index j = 0; j < 2; ++j) counts(i, j) = std::floor(4 * rng.uniform()) + j * std::floor(3 * rng.uniform());
  const Matrix<double> validation = counts.topRows(60).array() + 0.5;
  const Run alone = train_on<double>(counts, validation, nullptr, {}, true);
  const Run together = train_on<double>(my_shard(counts), my_shard(validation), &world(), {}, true);
  INFO("worst parameter difference " << max_difference(alone.values, together.values));
  CHECK(max_difference(alone.values, together.values) < 1e-12);
}

TEST_CASE("the ordered reduction makes a run bit-identical to the next", "[mpi]") {
  MpiCommunicator ordered(MPI_COMM_WORLD, MpiCommunicator::Reduction::ordered);
  const Data data = moons();
  const Run first = train_on<double>(my_shard(data.train), my_shard(data.validation), &ordered);
  const Run second = train_on<double>(my_shard(data.train), my_shard(data.validation), &ordered);
  CHECK(max_difference(first.values, second.values) == 0);
  CHECK(same_on_every_rank(first.values));
  const Run alone = train_on<double>(data.train, data.validation, nullptr);
  CHECK(max_difference(alone.values, first.values) < 1e-12);
}

TEST_CASE("chunked sums give the same bits for every number of ranks, and in one process", "[mpi]") {
  // 40 epochs (350 steps): long enough that plain sums' rounding, grown by the chaos of
  // training, would show; the chunked sums leave nothing to grow.
  const Data data = moons();
  SingleProcess alone;
  const Run one = train_on<double>(data.train, data.validation, &alone, {}, false, 16, 40);
  const Run many = train_on<double>(my_shard(data.train), my_shard(data.validation), &world(), {}, false, 16, 40);
  CHECK(max_difference(one.values, many.values) == 0);
  CHECK(many.result.history.back().validation_nll == one.result.history.back().validation_nll);
  const Run one_float = train_on<float>(data.train, data.validation, &alone, {}, false, 16, 10);
  const Run many_float = train_on<float>(my_shard(data.train), my_shard(data.validation), &world(), {}, false, 16, 10);
  CHECK(max_difference(one_float.values, many_float.values) == 0);
  CHECK_THROWS_WITH(train_on<double>(data.train, data.validation, nullptr, {}, false, 16), Catch::Contains("need a communicator"));
}

TEST_CASE("batch normalisation: population statistics of every rank's rows together", "[mpi]") {
  const Data data = moons();
  SingleProcess alone;
  // Chunked, each chunk is a training batch for every P, so training is the one process's;
  // the population statistics are sums over ranks (their rounding only).
  const Run one = train_on<double>(data.train, data.validation, &alone, {}, false, 16, 6, true);
  const Run many = train_on<double>(my_shard(data.train), my_shard(data.validation), &world(), {}, false, 16, 6, true);
  INFO("ranks " << world().size() << ", worst parameter difference " << max_difference(one.values, many.values)
                << ", worst statistic difference " << max_difference(one.statistics, many.statistics));
  CHECK(max_difference(one.values, many.values) < 1e-12);
  CHECK(max_difference(one.statistics, many.statistics) < 1e-12);
  CHECK(same_on_every_rank(many.statistics));
  // Plain sums: each rank's rows of a batch normalise themselves (a model of its own), but
  // the statistics it keeps are those of all training rows under its final parameters.
  const Run plain = train_on<double>(my_shard(data.train), my_shard(data.validation), &world(), {}, false, 0, 6, true);
  Random rng(7);
  FlowStack<double> again = small_batch_norm_flow<double>(rng);
  std::size_t at = 0;
  for (auto* p : again.parameters())
    for (Index i = 0; i < p->value.size(); ++i) p->value.data()[i] = plain.values[at++];
  again.update_statistics(data.train);  // one process, all rows
  CHECK(max_difference(statistics_of(again), plain.statistics) < 1e-12);
  // Dequantised: the statistics' fixed noise draw is the one process's on every row.
  Random counts_rng(9);
  Matrix<double> counts(300, 2);
  for (Index i = 0; i < counts.rows(); ++i)
    for (Index j = 0; j < 2; ++j) counts(i, j) = std::floor(4 * counts_rng.uniform()) + j * std::floor(3 * counts_rng.uniform());
  const Matrix<double> validation = counts.topRows(60).array() + 0.5;
  const Run one_noisy = train_on<double>(counts, validation, &alone, {}, true, 16, 6, true);
  const Run many_noisy = train_on<double>(my_shard(counts), my_shard(validation), &world(), {}, true, 16, 6, true);
  CHECK(max_difference(one_noisy.statistics, many_noisy.statistics) < 1e-12);
  CHECK(max_difference(one_noisy.values, many_noisy.values) < 1e-12);
}

TEST_CASE("the subspace flow's search over k is the one process's", "[mpi]") {
  Random rng(6);
  const Matrix<double> data = generate_dataset("mixed-moons", 900, rng, std::nullopt, Index(4));
  const DataSplit split = split_dataset(data, 0.2, 0.0, rng);
  SubspaceFlowOptions model;
  model.layers = 2;
  model.conditioner = {16, 2, Activation::relu};
  model.pursuit.max_rows = 300;  // fewer than the 720 training rows: the pursuit's subset is drawn, then gathered
  SubspaceSearchOptions search;
  search.seed = 2;
  search.training.epochs = 3;
  search.training.batch_size = 64;
  search.training.threads = 1;
  search.training.seed = 5;
  auto alone = fit_subspace_flow<double>(split.train, split.validation, model, search);
  SubspaceSearchOptions together = search;
  together.training.communicator = &world();
  auto many = fit_subspace_flow<double>(my_shard(split.train), my_shard(split.validation), model, together);
  CHECK(many.active == alone.active);
  CHECK(many.candidates.size() == alone.candidates.size());
  for (std::size_t k = 0; k < std::min(alone.candidates.size(), many.candidates.size()); ++k) {
    CHECK(many.candidates[k].active == alone.candidates[k].active);
    CHECK(many.candidates[k].epochs == alone.candidates[k].epochs);
    CHECK(many.candidates[k].validation_nll == Approx(alone.candidates[k].validation_nll).epsilon(1e-10));
  }
  INFO("worst parameter difference " << max_difference(flat_values(alone.flow), flat_values(many.flow)));
  CHECK(max_difference(flat_values(alone.flow), flat_values(many.flow)) < 1e-9);
  CHECK(same_on_every_rank(flat_values(many.flow)));
}

TEST_CASE("pooled moments and covariance over the ranks are the one process's of all rows", "[mpi]") {
  Random rng(3);
  Matrix<double> x(301, 3);  // an odd count: the shards differ in size
  for (Index i = 0; i < x.rows(); ++i)
    for (Index j = 0; j < x.cols(); ++j) x(i, j) = rng.normal() * (j + 1) + (j == 1 ? 0.5 * x(i, 0) : 4.0);
  const Standardization pooled = pooled_moments(world(), my_shard(x)), whole = Standardization::fit(x);
  CHECK((pooled.shift - whole.shift).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((pooled.scale - whole.scale).cwiseAbs().maxCoeff() < 1e-13);
  const Matrix<double> covariance = pooled_covariance(world(), my_shard(x));
  CHECK((covariance - FullCovarianceGaussian::fit(x).covariance()).cwiseAbs().maxCoeff() < 1e-12);
  // the whitening of the pooled covariance is the one process's whitening of the rows
  const Matrix<float> points = x.topRows(20).cast<float>();
  const auto pooled_map = zca_whitening_of_covariance<float>(covariance).forward(points);
  const auto whole_map = zca_whitening<float>(x).forward(points);
  CHECK((pooled_map.points - whole_map.points).cwiseAbs().maxCoeff() < 1e-5f);
  CHECK((pooled_map.log_det - whole_map.log_det).cwiseAbs().maxCoeff() < 1e-5f);
  // a constant column: the moments say so (scale 0), the standardisation refuses it, on every rank
  Matrix<double> constant = x;
  constant.col(2).setConstant(1.5);
  CHECK(pooled_moments(world(), my_shard(constant)).scale(2) == 0.0);
  CHECK_THROWS_WITH(fit_standardization(world(), my_shard(constant)), Catch::Contains("column 2 is constant"));
  CHECK_THROWS_WITH(pooled_covariance(world(), my_shard(x.topRows(3))), Catch::Contains("more rows than columns"));
}

TEST_CASE("input one rank refuses ends the run on every rank", "[mpi]") {
  const Data data = moons();
  const bool last = world().rank() == world().size() - 1;
  auto expect_failure = [&](const Matrix<double>& train_rows, bool mine, const std::string& message) {
    try {
      train_on<double>(train_rows, my_shard(data.validation), &world());
      FAIL_CHECK("no error on rank " << world().rank());
    } catch (const RemoteError& e) {
      CHECK(!mine);
      CHECK_THAT(e.what(), Catch::Contains("rank " + std::to_string(world().size() - 1) + " failed"));
    } catch (const ValueError& e) {
      CHECK(mine);
      CHECK_THAT(e.what(), Catch::Contains(message));
    }
  };
  Matrix<double> with_nan = my_shard(data.train);
  if (last) with_nan(3, 1) = std::numeric_limits<double>::quiet_NaN();
  expect_failure(with_nan, last, "non-finite");
  const Matrix<double> empty = last ? Matrix<double>(0, 2) : my_shard(data.train);
  expect_failure(empty, last, "no training data in this rank's shard");
}

TEST_CASE("ranks given different settings are refused on every rank", "[mpi]") {
  if (world().size() == 1) return;
  const Data data = moons();
  Random rng(7);
  FlowStack<double> flow = small_glow<double>(rng);
  AdamW<double> optimizer(flow.parameters());
  TrainOptions options;
  options.epochs = world().rank() == 1 ? 3 : 2;
  options.communicator = &world();
  CHECK_THROWS_WITH(train(flow, optimizer, my_shard(data.train), my_shard(data.validation), options),
                    Catch::Contains("rank 1's epochs (3") && Catch::Contains("differs from rank 0's"));
  options.epochs = 2;
  std::vector<Index> rows;  // every rank claims row 0
  for (Index i = 0; i < my_shard(data.train).rows(); ++i) rows.push_back(i);
  options.shard_rows = rows;
  CHECK_THROWS_WITH(train(flow, optimizer, my_shard(data.train), my_shard(data.validation), options),
                    Catch::Contains("held by") || Catch::Contains("outside the global training set"));
}
