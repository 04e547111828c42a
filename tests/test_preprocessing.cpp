// Preprocessing inside the model: the logit map of bounded data (its box,
// its density's mass, its model-file entry) and uniform dequantisation
// (bounds on the exact probability mass, sampling, bits per dimension,
// training on integers). The logit's Jacobian, inverse and gradients go
// through the conformance loop of test_layers.cpp (tests/layer_zoo.hpp).
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include "test_support.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

using namespace eigenflow;
using nlohmann::json;
using eigenflow::test::model_load_error;

namespace {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

/// P(k) = Π_j [Φ((k_j + 1 − μ_j)/σ_j) − Φ((k_j − μ_j)/σ_j)]: the exact mass that N(μ, diag σ²) gives the cell [k, k + 1).
double cell_log_mass(const RowVector<double>& k, const RowVector<double>& mean, const RowVector<double>& sd) {
  double log_mass = 0;
  for (Index j = 0; j < k.cols(); ++j)
    log_mass += std::log(normal_cdf((k(j) + 1 - mean(j)) / sd(j)) - normal_cdf((k(j) - mean(j)) / sd(j)));
  return log_mass;
}

/// N(μ, diag σ²) as a flow: a standard normal behind the standardisation (x − μ)/σ.
FlowStack<double> gaussian_flow(const RowVector<double>& mean, const RowVector<double>& sd) {
  FlowStack<double> flow(mean.cols());
  flow.set_preprocess(mean, sd);
  return flow;
}

}  // namespace

TEST_CASE("logit maps its box onto R^D and back, and refuses points outside its support", "[preprocessing]") {
  RowVector<double> lo(2), hi(2);
  lo << 0, -1;
  hi << 1, 2;
  const Logit<double> logit(lo, hi, 0.01);
  // The bounds themselves map to finite points, logit(α) and logit(1 − α).
  Matrix<double> corners(2, 2);
  corners << 0, -1, 1, 2;
  const auto there = logit.forward(corners);
  CHECK(there.points(0, 0) == Approx(std::log(0.01 / 0.99)).epsilon(1e-12));
  CHECK(there.points(1, 1) == Approx(std::log(0.99 / 0.01)).epsilon(1e-12));
  CHECK(there.log_det.allFinite());
  // Its support is the box widened by m = α(hi − lo)/(1 − 2α); the inverse lands inside it.
  Matrix<double> far(3, 2);
  far << -40, 40, 40, -40, 0, 0;
  const Matrix<double> back = logit.inverse(far).points;
  for (Index j = 0; j < 2; ++j) {
    const double margin = 0.01 * (hi(j) - lo(j)) / 0.98;
    CHECK((back.col(j).array() > lo(j) - margin - 1e-12).all());
    CHECK((back.col(j).array() < hi(j) + margin + 1e-12).all());
  }
  Matrix<double> outside(2, 2);
  outside << 0.5, 0.5, 0.5, 2.1;
  CHECK_THROWS_WITH(logit.forward(outside), Catch::Contains("row 1, column 1") && Catch::Contains("outside the bounds"));
  // With α = 0 the bounds are outside: log 0 is refused, not returned as −inf.
  const Logit<double> strict(lo, hi, 0.0);
  CHECK_THROWS_WITH(strict.forward(corners), Catch::Contains("row 0, column 0"));
  CHECK_THROWS_AS(Logit<double>(lo, lo, 0.01), ValueError);
  CHECK_THROWS_WITH(Logit<double>(lo, hi, 0.5), Catch::Contains("alpha"));
}

TEST_CASE("a bounded flow's density integrates to one over its box", "[preprocessing]") {
  Random rng(11);
  RowVector<double> lo(2), hi(2);
  lo << 0, -1;
  hi << 1, 2;
  const double alpha = 0.01;
  FlowStack<double> flow(2);
  flow.append(Logit<double>(lo, hi, alpha));
  RowVector<double> shift(2), scale(2);
  shift << 0.3, -0.2;
  scale << 1.5, 0.8;
  flow.append(Standardize<double>(shift, scale));
  flow.append(AffineCoupling<double>::make(alternating_mask<double>(2, 0), {16, 2, Activation::tanh}, Conditioner::separate,
                                           ScaleActivation::tanh, rng));
  flow.append(Planar<double>::random(2, rng));
  // Midpoint rule over the support, [lo − m, hi + m].
  const Index cells = 1000;
  RowVector<double> low(2), width(2);
  for (Index j = 0; j < 2; ++j) {
    const double margin = alpha * (hi(j) - lo(j)) / (1 - 2 * alpha);
    low(j) = lo(j) - margin;
    width(j) = (hi(j) - lo(j) + 2 * margin) / static_cast<double>(cells);
  }
  Matrix<double> grid(cells * cells, 2);
  for (Index i = 0; i < cells; ++i)
    for (Index k = 0; k < cells; ++k)
      grid.row(i * cells + k) << low(0) + (static_cast<double>(i) + 0.5) * width(0), low(1) + (static_cast<double>(k) + 0.5) * width(1);
  const double mass = flow.log_prob(grid).array().exp().sum() * width(0) * width(1);
  CHECK(mass == Approx(1.0).margin(2e-3));
  // Samples respect the support, and their log_prob is what sample_and_log_prob reports.
  Random draw(12);
  const auto samples = flow.sample_and_log_prob(2000, draw);
  CHECK((samples.log_prob - flow.log_prob(samples.points)).cwiseAbs().maxCoeff() <= 1e-8);
}

TEST_CASE("the dequantized log-mass bounds the exact one from below and converges with draws", "[preprocessing]") {
  RowVector<double> mean(2), sd(2);
  mean << 1.3, -0.4;
  sd << 1.5, 0.8;
  const FlowStack<double> flow = gaussian_flow(mean, sd);
  const std::vector<Index> columns{0, 1};
  Matrix<double> cells(4, 2);
  cells << 1, 0, -2, -1, 4, 1, 0, -3;  // from the mode to the far tail
  Random rng(21);
  for (Index i = 0; i < cells.rows(); ++i) {
    const Matrix<double> k = cells.row(i);
    const double exact = cell_log_mass(k, mean, sd);
    // One draw: E log p(k + u) ≤ log P(k) (Jensen), with a gap that is not noise.
    const Matrix<double> repeated = k.replicate(4000, 1);
    const ColumnVector<double> one_draw = dequantized_log_prob(flow, repeated, columns, 1, rng);
    const double mean_one = one_draw.mean();
    const double se = std::sqrt((one_draw.array() - mean_one).square().sum() / 3999.0 / 4000.0);
    INFO("cell " << k << ": exact " << exact << ", one draw " << mean_one << " ± " << se);
    CHECK(mean_one < exact);
    // Many draws: log (1/K) Σ p(k + u_k) → log P(k), within five delta-method standard
    // errors, CV(p(k + u)) / √K, the coefficient of variation measured on the single draws.
    const Eigen::ArrayXd weights = one_draw.array().exp();
    const double cv = std::sqrt((weights - weights.mean()).square().mean()) / weights.mean();
    const Index draws = 20000;
    const double many = dequantized_log_prob(flow, k, columns, draws, rng)(0);
    CHECK(std::abs(many - exact) <= 5 * cv / std::sqrt(static_cast<double>(draws)));
    CHECK(many > mean_one);
  }
  // The estimated masses of all cells sum to one (exp of the K-draw estimate is unbiased for P).
  Matrix<double> lattice(16 * 12, 2);
  for (Index a = 0; a < 16; ++a)
    for (Index b = 0; b < 12; ++b) lattice.row(a * 12 + b) << static_cast<double>(a - 7), static_cast<double>(b - 6);
  const double total = dequantized_log_prob(flow, lattice, columns, 20000, rng).array().exp().sum();
  CHECK(total == Approx(1.0).margin(3e-3));
  // Non-integers and bad column lists are refused.
  Matrix<double> half(1, 2);
  half << 0.5, 1;
  CHECK_THROWS_WITH(dequantized_log_prob(flow, half, columns, 4, rng), Catch::Contains("row 0, column 0") && Catch::Contains("not an integer"));
  CHECK_THROWS_WITH(dequantized_log_prob(flow, cells, std::vector<Index>{1, 0}, 4, rng), Catch::Contains("strictly increasing"));
  CHECK_THROWS_WITH(dequantized_log_prob(flow, cells, std::vector<Index>{2}, 4, rng), Catch::Contains("outside [0, 2)"));
  CHECK_THROWS_AS(dequantized_log_prob(flow, cells, columns, 0, rng), ValueError);
}

TEST_CASE("floored samples follow the cell masses", "[preprocessing]") {
  RowVector<double> mean(2), sd(2);
  mean << 0.2, 0.7;
  sd << 0.9, 0.6;
  FlowStack<double> flow = gaussian_flow(mean, sd);
  flow.set_dequantized({0, 1});
  Random rng(31);
  const Index n = 40000;
  const Matrix<double> samples = quantize(flow.sample(n, rng), flow.dequantized());
  std::map<std::pair<long, long>, Index> counts;
  for (Index i = 0; i < n; ++i) {
    REQUIRE(std::floor(samples(i, 0)) == samples(i, 0));
    ++counts[{std::lround(samples(i, 0)), std::lround(samples(i, 1))}];
  }
  for (const auto& [cell, count] : counts) {
    RowVector<double> k(2);
    k << static_cast<double>(cell.first), static_cast<double>(cell.second);
    const double p = std::exp(cell_log_mass(k, mean, sd));
    if (p < 0.01) continue;
    const double sigma = std::sqrt(p * (1 - p) / static_cast<double>(n));
    INFO("cell " << k << ": frequency " << double(count) / double(n) << ", mass " << p);
    CHECK(std::abs(static_cast<double>(count) / static_cast<double>(n) - p) < 4.5 * sigma);
  }
}

TEST_CASE("bits per dimension is the NLL over D ln 2", "[preprocessing]") {
  // A uniform law on 256 levels in each of 3 dimensions: −log P = 3 ln 256, 8 bits per dimension.
  CHECK(bits_per_dim(3 * std::log(256.0), 3) == Approx(8.0).epsilon(1e-15));
  // And from a model: the dequantized N(μ, σ²) at one cell, against the exact mass in bits.
  RowVector<double> mean(1), sd(1);
  mean << 3.0;
  sd << 2.0;
  const FlowStack<double> flow = gaussian_flow(mean, sd);
  Random rng(41);
  const Matrix<double> k = Matrix<double>::Constant(1, 1, 3.0);
  const double estimate = bits_per_dim(-dequantized_log_prob(flow, k, {0}, 20000, rng)(0), 1);
  CHECK(estimate == Approx(-cell_log_mass(k, mean, sd) / std::log(2.0)).margin(1e-3));
}

TEST_CASE("training on dequantized integers fits their probability mass", "[preprocessing]") {
  // k = floor(x), x ~ N(3.3, 1.7²): the fitted flow's log P on fresh integers must reach the
  // exact entropy of the law of k (and cannot go below it beyond noise).
  Random rng(51);
  auto draw = [&](Index n) {
    Matrix<double> k(n, 1);
    for (Index i = 0; i < n; ++i) k(i, 0) = std::floor(rng.normal(3.3, 1.7));
    return k;
  };
  const Matrix<double> train_k = draw(4000), fresh = draw(4000);
  Matrix<double> validation = draw(500);
  add_uniform_noise(validation, {0}, rng);
  double entropy = 0;
  for (int k = -20; k <= 30; ++k) {
    const double p = normal_cdf((k + 1 - 3.3) / 1.7) - normal_cdf((k - 3.3) / 1.7);
    if (p > 0) entropy -= p * std::log(p);
  }
  FlowStack<double> flow(1);
  flow.append(ActNorm<double>(1));
  flow.append(LeakyReLU<double>(1, 0.9));
  flow.append(ActNorm<double>(1));
  Adam<double> optimizer(flow.parameters(), AdamOptions{1e-2, 0.9, 0.999, 1e-8, 0.0, false});
  TrainOptions options;
  options.epochs = 40;
  options.batch_size = 200;
  options.dequantize = {0};
  train(flow, optimizer, train_k, validation, options);
  const double nll = -dequantized_log_prob(flow, fresh, {0}, 64, rng).mean();
  INFO("held-out -log P " << nll << ", entropy " << entropy);
  CHECK(nll > entropy - 0.05);  // the sample mean's noise: sd of log P / sqrt(4000) ≈ 0.02
  CHECK(nll < entropy + 0.05);
  // The trainer refuses a value that is not an integer, naming it.
  Matrix<double> bad = train_k;
  bad(7, 0) = 2.5;
  Adam<double> other(flow.parameters(), AdamOptions{1e-2, 0.9, 0.999, 1e-8, 0.0, false});
  CHECK_THROWS_WITH(train(flow, other, bad, validation, options), Catch::Contains("row 7, column 0"));
}

TEMPLATE_TEST_CASE("a bounded, dequantized model saves and loads bit-identically", "[preprocessing]", float, double) {
  Random rng(61);
  using S = TestType;
  FlowStack<S> flow(2);
  flow.append(Logit<S>(RowVector<S>::Constant(2, S(0)), RowVector<S>::Constant(2, S(256)), S(0.05)));
  flow.append(Standardize<S>(RowVector<S>::Constant(2, S(0.1)), RowVector<S>::Constant(2, S(1.9))));
  flow.append(AffineCoupling<S>::make(alternating_mask<S>(2, 1), {8, 2, Activation::relu}, Conditioner::separate, ScaleActivation::tanh, rng));
  flow.set_dequantized({0, 1});
  const std::string path = "eigenflow_test_bounded_model.json";
  save_model(path, flow);
  const FlowStack<S> loaded = load_model<S>(path);
  std::remove(path.c_str());
  Matrix<S> x(3, 2);
  x << S(0.5), S(255.5), S(17.25), S(128), S(200), S(3);
  CHECK(loaded.log_prob(x) == flow.log_prob(x));  // exact on purpose
  CHECK(loaded.dequantized() == flow.dequantized());
  const json document = model_to_json(flow);
  CHECK(document["dequantize"] == json({0, 1}));
  CHECK(document["layers"][0]["type"] == "logit");
  CHECK(document["layers"][1]["type"] == "standardize");
}

TEST_CASE("malformed preprocessing entries name their JSON path", "[preprocessing]") {
  FlowStack<double> flow(2);
  flow.append(Logit<double>(RowVector<double>::Zero(2), RowVector<double>::Ones(2), 0.01));
  flow.append(Standardize<double>(RowVector<double>::Zero(2), RowVector<double>::Ones(2)));
  flow.set_dequantized({1});
  const json good = model_to_json(flow);
  REQUIRE(model_load_error(good) == "no error");
  auto with = [&](const std::function<void(json&)>& change) {
    json document = good;
    change(document);
    return model_load_error(document);
  };
  CHECK_THAT(with([](json& d) { d["dequantize"] = {2}; }), Catch::Contains("/dequantize") && Catch::Contains("outside [0, 2)"));
  CHECK_THAT(with([](json& d) { d["dequantize"] = {1, 0}; }), Catch::Contains("/dequantize") && Catch::Contains("strictly increasing"));
  CHECK_THAT(with([](json& d) { d["dequantize"] = {0.5}; }), Catch::Contains("/dequantize/0") && Catch::Contains("integer"));
  CHECK_THAT(with([](json& d) { d["dequantize"] = "all"; }), Catch::Contains("/dequantize"));
  CHECK_THAT(with([](json& d) { d["layers"][0]["alpha"] = 0.5; }), Catch::Contains("/layers/0/alpha"));
  CHECK_THAT(with([](json& d) { d["layers"][0]["hi"] = {1.0, 0.0}; }), Catch::Contains("/layers/0") && Catch::Contains("lo < hi"));
  CHECK_THAT(with([](json& d) { d["layers"][0].erase("lo"); }), Catch::Contains("/layers/0") && Catch::Contains("missing field \"lo\""));
  CHECK_THAT(with([](json& d) { d["layers"][1]["scale"] = {1.0, 0.0}; }), Catch::Contains("/layers/1/scale/1") && Catch::Contains("positive"));
  CHECK_THAT(with([](json& d) { d["layers"][1]["shift"] = {1.0}; }), Catch::Contains("/layers/1/shift"));
}
