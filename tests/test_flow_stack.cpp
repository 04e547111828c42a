// FlowStack and StaticFlowStack: composition, densities that integrate to
// one, sampling consistent with log_prob, base distributions.
#include <catch2/catch.hpp>

#include "layer_zoo.hpp"
#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::integrate_2d;
using eigenflow::test::uniform_matrix;

namespace {

/// The zoo's cases that go into an unconditional 2D stack (conditional ones: test_conditional).
bool in_every_layer_stack(const eigenflow::test::LayerCase& layer_case) {
  return layer_case.whole_space && layer_case.context_dim == 0;
}

/// A 2D stack holding every layer type.
FlowStack<double> every_layer_stack(Random& rng) {
  FlowStack<double> flow(2);
  for (const auto& layer_case : eigenflow::test::all_layer_cases())
    if (in_every_layer_stack(layer_case)) flow.append(layer_case.make(2, rng));
  return flow;
}

}  // namespace

TEST_CASE("a 2D stack of every layer type has a density that integrates to one", "[flow_stack]") {
  Random rng(1);
  FlowStack<double> flow = every_layer_stack(rng);
  eigenflow::test::loosen_continuous_layers(flow, 1e-8);
  std::size_t whole_space = 0;
  for (const auto& layer_case : eigenflow::test::all_layer_cases()) whole_space += in_every_layer_stack(layer_case);
  REQUIRE(flow.size() == whole_space);
  // 50 × 50 cells refined where the midpoint rule disagrees with itself: 250,000 points, where
  // the uniform grid this test used had 1,440,000 (one of 160,000 points misses by 1.5e-3)
  const auto mass = integrate_2d([&](const Matrix<double>& x) { return flow.log_prob(x); },
                                 eigenflow::test::graded_axis(12.0, 50), 3e-7);
  INFO("mass " << mass.value << ", estimated error " << mass.error_estimate << ", " << mass.evaluations << " points");
  CHECK(mass.value == Approx(1.0).margin(3e-3));
}

TEST_CASE("the forward log-det of a stack is the sum of its layers'", "[flow_stack]") {
  Random rng(2);
  const FlowStack<double> flow = every_layer_stack(rng);
  const Matrix<double> x = uniform_matrix(rng, 10, 2, -2, 2);
  ColumnVector<double> total = ColumnVector<double>::Zero(10);
  Matrix<double> points = x;
  for (std::size_t k = 0; k < flow.size(); ++k) {
    auto step = flow.layer(k).forward(points);
    total += step.log_det;
    points = step.points;
  }
  const auto result = flow.forward(x);
  CHECK((result.points - points).cwiseAbs().maxCoeff() == 0.0);
  CHECK((result.log_det - total).cwiseAbs().maxCoeff() <= 1e-12);
  const auto trajectory = flow.forward_trajectory(x);
  REQUIRE(trajectory.size() == flow.size() + 1);
  CHECK(trajectory.front() == x);
  CHECK(trajectory.back() == result.points);
  const auto backwards = flow.inverse_trajectory(result.points);
  REQUIRE(backwards.size() == flow.size() + 1);
  CHECK((backwards.back() - x).cwiseAbs().maxCoeff() <= 1e-10);
}

TEST_CASE("sample_and_log_prob agrees with log_prob of the samples", "[flow_stack]") {
  Random rng(3);
  const FlowStack<double> flow = every_layer_stack(rng);
  Random draw(4);
  const auto samples = flow.sample_and_log_prob(500, draw);
  CHECK(samples.points.rows() == 500);
  CHECK((flow.log_prob(samples.points) - samples.log_prob).cwiseAbs().maxCoeff() <= 1e-9);
  Random same(4);
  CHECK(flow.sample(500, same) == samples.points);
  CHECK_THROWS_AS(flow.sample(-1, draw), ValueError);
}

TEST_CASE("log_prob and sampling in row chunks (and threads) match row by row", "[flow_stack]") {
  Random rng(21);
  FlowStack<double> flow = every_layer_stack(rng);
  const Index n = 2 * detail::row_chunk + 77;  // three chunks, the last one short
  const Samples<double> drawn = flow.sample_and_log_prob(n, rng);
  const ColumnVector<double> whole = flow.log_prob(drawn.points);
  // A one-row product is blocked differently from a chunk's, so the two agree to rounding, which
  // grows with |log p|: relative 1e-12 (over every 7th row of this stack: at most 4.7e-12 at |log p| ≈ 10).
  double worst = 0, worst_sample = 0;
  for (const Index row : {Index(0), detail::row_chunk - 1, detail::row_chunk, 2 * detail::row_chunk + 5, n - 1}) {
    worst = std::max(worst, std::abs(whole(row) - flow.log_prob(Matrix<double>(drawn.points.row(row)))(0)) /
                                std::max(1.0, std::abs(whole(row))));
    worst_sample = std::max(worst_sample, std::abs(whole(row) - drawn.log_prob(row)));
  }
  INFO("log_prob whole vs one row (relative): " << worst << ", vs sampling's own: " << worst_sample);
  CHECK(worst < 1e-12);
  CHECK(worst_sample < 1e-8);  // the planar and radial inverses are solved to ~1e-12
  // sample() gives sample_and_log_prob()'s points
  Random again(21);
  FlowStack<double> same = every_layer_stack(again);
  CHECK(same.sample(n, again) == drawn.points);
#ifdef _OPENMP
  // and the threads change nothing, not even the last bit
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const ColumnVector<double> serial = flow.log_prob(drawn.points);
  omp_set_num_threads(2);
  const ColumnVector<double> parallel = flow.log_prob(drawn.points);
  omp_set_num_threads(threads);
  CHECK(serial == parallel);
  CHECK(serial == whole);
#endif
}

TEST_CASE("samples follow the model: a moment check on a known linear flow", "[flow_stack]") {
  // LeakyReLU with slope a: x = z for z >= 0 and z / a for z < 0, so
  // E[x] = (1 - 1/a)/sqrt(2π) per coordinate; compared with 5 standard errors.
  FlowStack<double> flow(2);
  flow.append(LeakyReLU<double>(2, 0.5));
  Random rng(5);
  const Matrix<double> x = flow.sample(200000, rng);
  const double expected = (1 - 1 / 0.5) / std::sqrt(2 * M_PI);
  const double sd = std::sqrt((0.5 * 1 + 0.5 * 4) - expected * expected);
  for (Index j = 0; j < 2; ++j) CHECK(x.col(j).mean() == Approx(expected).margin(5 * sd / std::sqrt(200000.0)));
}

TEST_CASE("a static stack computes exactly what the runtime stack computes", "[flow_stack]") {
  Random rng(6);
  const LeakyReLU<double> leaky(2, 0.7);
  const auto coupling = AffineCoupling<double>::make(alternating_mask(2, 0), {16, 2, Activation::relu},
                                                     Conditioner::separate, ScaleActivation::tanh, rng);
  const auto planar = Planar<double>::random(2, rng);
  const auto radial = Radial<double>::random(2, rng);
  StaticFlowStack<LeakyReLU<double>, AffineCoupling<double>, Planar<double>, Radial<double>> fixed(leaky, coupling,
                                                                                                    planar, radial);
  FlowStack<double> dynamic(2);
  dynamic.append(leaky);
  dynamic.append(coupling);
  dynamic.append(planar);
  dynamic.append(radial);

  const Matrix<double> x = uniform_matrix(rng, 30, 2, -2, 2);
  CHECK(fixed.log_prob(x) == dynamic.log_prob(x));
  CHECK(fixed.inverse(x).points == dynamic.inverse(x).points);
  Random a(7), b(7);
  CHECK(fixed.sample(10, a) == dynamic.sample(10, b));
  CHECK(fixed.parameters().size() == dynamic.parameters().size());
  Tape<double> tape;
  CHECK(fixed.log_prob(tape, tape.constant(x)).value() == Matrix<double>(dynamic.log_prob(x)));
  CHECK(decltype(fixed)::size() == 4);
}

TEST_CASE("a copied stack is independent of the original", "[flow_stack]") {
  Random rng(8);
  FlowStack<double> flow = every_layer_stack(rng);
  FlowStack<double> copy = flow;
  const Matrix<double> x = uniform_matrix(rng, 5, 2);
  CHECK(copy.log_prob(x) == flow.log_prob(x));
  for (auto* p : copy.parameters()) p->value.array() += 0.1;
  CHECK(copy.log_prob(x) != flow.log_prob(x));
}

TEST_CASE("a diagonal Gaussian base has the closed-form density and trainable gradients", "[flow_stack]") {
  RowVector<double> mean(2), log_std(2);
  mean << 0.5, -1.0;
  log_std << 0.2, -0.3;
  FlowStack<double> flow(2);
  flow.set_base(std::make_unique<DiagonalGaussian<double>>(mean, log_std));
  Matrix<double> x(1, 2);
  x << 0.1, 0.4;
  double expected = 0;
  for (Index j = 0; j < 2; ++j) {
    const double sigma = std::exp(log_std(j));
    expected += -0.5 * std::pow((x(0, j) - mean(j)) / sigma, 2) - std::log(sigma) - 0.5 * std::log(2 * M_PI);
  }
  CHECK(flow.log_prob(x)(0) == Approx(expected).epsilon(1e-14));
  Random rng(9);
  flow.append(LeakyReLU<double>(2, 0.8));
  const Matrix<double> batch = uniform_matrix(rng, 12, 2, -2, 2);
  const auto result = check_parameter_gradients(
      [&](Tape<double>& tape) { return flow.negative_log_likelihood(tape, tape.constant(batch)); }, flow.parameters());
  INFO(result.worst);
  CHECK(result.passed);
  CHECK(flow.parameters().size() == 3);
  const auto mass = integrate_2d([&](const Matrix<double>& p) { return flow.log_prob(p); },
                                 eigenflow::test::graded_axis(12.0, 50), 3e-7);
  INFO("mass " << mass.value << ", estimated error " << mass.error_estimate);
  CHECK(mass.value == Approx(1.0).margin(3e-3));
}

TEST_CASE("a stack rejects bad input with a message", "[flow_stack]") {
  Random rng(10);
  FlowStack<double> flow(2);
  CHECK_THROWS_AS(flow.append(LeakyReLU<double>(3)), ShapeError);
  flow.append(LeakyReLU<double>(2));
  Matrix<double> x = Matrix<double>::Zero(3, 2);
  x(1, 1) = std::nan("");
  CHECK_THROWS_WITH(flow.log_prob(x), Catch::Contains("row 1") && Catch::Contains("column 1"));
  x(1, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(flow.sample_and_log_prob(1, rng).points + flow.inverse(x).points, ValueError);
  CHECK_THROWS_WITH(flow.forward(Matrix<double>::Zero(3, 5)), Catch::Contains("3x5"));
  CHECK_THROWS_AS(flow.log_prob(Matrix<double>::Zero(0, 5)), ShapeError);  // even with no rows
  Matrix<double> many = Matrix<double>::Zero(3 * detail::row_chunk, 2);
  many(2 * detail::row_chunk + 7, 0) = std::nan("");  // in the third chunk: the message names the row of x
  CHECK_THROWS_WITH(flow.log_prob(many), Catch::Contains("row " + std::to_string(2 * detail::row_chunk + 7)));
}
