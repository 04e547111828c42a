// Conditional flows p(x | c) beyond the per-layer conformance loop (test_layers
// runs every conditional layer through it): the context really changes the map,
// layers without a network ignore it, the conditional base against its formula,
// stacks whose density integrates to one for several fixed c, sampling with one
// context or one per point, the compile-time stack, model files, training on
// rotated moons against the exact conditional density, and bad contexts refused.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <limits>

#include "layer_zoo.hpp"
#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::all_layer_cases;
using eigenflow::test::integrate_2d;
using eigenflow::test::model_load_error;
using eigenflow::test::uniform_matrix;
using eigenflow::test::zoo_context_dim;

namespace {

/// A 2D stack of every conditional zoo layer between unconditional ones, a
/// conditional base and a context standardisation.
FlowStack<double> conditional_stack(Random& rng) {
  FlowStack<double> flow(2, zoo_context_dim);
  flow.append(LeakyReLU<double>(2, 0.8));
  for (const auto& layer_case : all_layer_cases())
    if (layer_case.context_dim > 0) flow.append(layer_case.make(2, rng));
  flow.append(Planar<double>::random(2, rng));
  ConditionerShape shape{8, 1, Activation::tanh, zoo_context_dim};
  auto base = std::make_unique<ConditionalDiagonalGaussian<double>>(2, shape, rng);
  for (auto* p : base->parameters()) p->value = uniform_matrix(rng, p->value.rows(), p->value.cols(), -0.4, 0.4);
  flow.set_base(std::move(base));
  RowVector<double> shift(zoo_context_dim), scale(zoo_context_dim);
  shift << 0.3, -0.2;
  scale << 1.5, 0.7;
  flow.set_context_preprocess(shift, scale);
  return flow;
}

Matrix<double> context_row(double a, double b) {
  Matrix<double> c(1, 2);
  c << a, b;
  return c;
}

}  // namespace

TEST_CASE("a conditional layer's map depends on its context, and a missing or wrong context is refused", "[conditional]") {
  for (const auto& layer_case : all_layer_cases()) {
    if (layer_case.context_dim == 0) continue;
    Random rng(11);
    auto layer = layer_case.make(3, rng);
    for (auto* p : layer->parameters()) p->value = uniform_matrix(rng, p->value.rows(), p->value.cols(), -0.5, 0.5);
    INFO(layer_case.name);
    REQUIRE(layer->context_dim() == zoo_context_dim);
    const Matrix<double> x = uniform_matrix(rng, 5, 3, -2, 2);
    const Matrix<double> c1 = uniform_matrix(rng, 5, zoo_context_dim), c2 = uniform_matrix(rng, 5, zoo_context_dim);
    const auto a = layer->forward(x, c1), b = layer->forward(x, c2);
    CHECK((a.points - b.points).cwiseAbs().minCoeff() >= 0);  // shapes agree
    CHECK((a.points - b.points).cwiseAbs().maxCoeff() > 1e-3);
    CHECK_THROWS_WITH(layer->forward(x), Catch::Contains("context of 2 columns; none given"));
    CHECK_THROWS_WITH(layer->inverse(x), Catch::Contains("none given"));
    CHECK_THROWS_WITH(layer->forward(x, uniform_matrix(rng, 5, 3)), Catch::Contains("expected a context of 5x2"));
    CHECK_THROWS_AS(layer->inverse(x, uniform_matrix(rng, 4, 2)), ShapeError);
    Tape<double> tape;
    CHECK_THROWS_AS(layer->forward(tape, tape.constant(x)), ShapeError);
  }
}

TEST_CASE("layers without a network ignore the context, bit for bit", "[conditional]") {
  for (const auto& layer_case : all_layer_cases()) {
    Random rng(12);
    const auto layer = layer_case.make(3, rng);
    if (layer->context_dim() > 0) continue;
    const Matrix<double> x = uniform_matrix(rng, 6, 3, -2, 2), c = uniform_matrix(rng, 6, 4);
    INFO(layer_case.name);
    CHECK(layer->forward(x, c).points == layer->forward(x).points);
    CHECK(layer->forward(x, c).log_det == layer->forward(x).log_det);
    CHECK(layer->inverse(x, c).points == layer->inverse(x).points);
  }
}

TEST_CASE("the conditional diagonal Gaussian base matches its formula and its gradients", "[conditional]") {
  Random rng(13);
  ConditionalDiagonalGaussian<double> base(3, {6, 1, Activation::tanh, 2}, rng);
  for (auto* p : base.parameters()) p->value = uniform_matrix(rng, p->value.rows(), p->value.cols(), -0.6, 0.6);
  const Matrix<double> z = uniform_matrix(rng, 7, 3, -2, 2), c = uniform_matrix(rng, 7, 2);
  const Matrix<double> both = base.net()(c);
  const ColumnVector<double> log_p = base.log_prob(z, c);
  for (Index i = 0; i < z.rows(); ++i) {
    double expected = 0;
    for (Index j = 0; j < 3; ++j) {
      const double mu = both(i, j), log_sigma = both(i, 3 + j), u = (z(i, j) - mu) / std::exp(log_sigma);
      expected += -0.5 * u * u - log_sigma - 0.5 * std::log(2 * M_PI);
    }
    CHECK(log_p(i) == Approx(expected).epsilon(1e-13));
  }
  // gradients for the parameters, z and c
  const auto parameters = base.parameters();
  CHECK(check_parameter_gradients(
            [&](Tape<double>& tape) { return mean(base.log_prob(tape, tape.constant(z), tape.constant(c))); }, parameters)
            .passed);
  CHECK(check_gradient([&](Tape<double>& tape, const std::vector<Var<double>>& in) { return mean(base.log_prob(tape, in[0], in[1])); },
                       {z, c})
            .passed);
  // samples at one context: mean μ(c), standard deviation σ(c)
  const Matrix<double> one = uniform_matrix(rng, 1, 2);
  const Matrix<double> draws = base.sample(Matrix<double>(one.replicate(40000, 1)), rng);
  const Matrix<double> expected = base.net()(one);
  for (Index j = 0; j < 3; ++j) {
    const double sigma = std::exp(expected(0, 3 + j));
    CHECK(draws.col(j).mean() == Approx(expected(0, j)).margin(4 * sigma / 200));
    const double sd = std::sqrt((draws.col(j).array() - draws.col(j).mean()).square().mean());
    CHECK(sd == Approx(sigma).epsilon(0.02));
  }
  CHECK_THROWS_WITH(base.log_prob(z), Catch::Contains("none given"));
  CHECK_THROWS_AS(base.sample(3, rng), ShapeError);
  CHECK_THROWS_WITH(base.log_prob(z, uniform_matrix(rng, 7, 3)), Catch::Contains("expected a context of 7x2"));
}

TEST_CASE("a conditional stack's density integrates to one at every fixed context", "[conditional]") {
  Random rng(14);
  FlowStack<double> flow = conditional_stack(rng);
  eigenflow::test::loosen_continuous_layers(flow, 1e-8);
  for (const auto& c : {context_row(0, 0), context_row(1.5, -1), context_row(-2, 0.7)}) {
    // ±30: this stack's tails hold 0.5% of the mass beyond ±12; cells of 0.6 in the bulk and
    // of 3 in the tails, refined where the midpoint rule disagrees with itself
    const auto mass = integrate_2d(
        [&](const Matrix<double>& x) { return flow.log_prob(x, Matrix<double>(c.replicate(x.rows(), 1))); },
        eigenflow::test::graded_axis(12.0, 40, 30.0, 3.0), 1e-6);
    INFO("c = " << c << ": mass " << mass.value << ", estimated error " << mass.error_estimate);
    CHECK(mass.value == Approx(1.0).margin(3e-3));
  }
  // and the densities at two contexts differ
  const Matrix<double> x = uniform_matrix(rng, 20, 2, -1, 1);
  const ColumnVector<double> a = flow.log_prob(x, Matrix<double>(context_row(0, 0).replicate(20, 1)));
  const ColumnVector<double> b = flow.log_prob(x, Matrix<double>(context_row(1.5, -1).replicate(20, 1)));
  CHECK((a - b).cwiseAbs().maxCoeff() > 0.05);
}

TEST_CASE("conditional sampling: one context for all points or one per point, consistent with log_prob", "[conditional]") {
  Random rng(15);
  const FlowStack<double> flow = conditional_stack(rng);
  const Matrix<double> c = context_row(0.4, -0.9);
  Random draw(1);
  const Samples<double> samples = flow.sample_and_log_prob(300, c, draw);
  REQUIRE(samples.points.rows() == 300);
  const Matrix<double> repeated = c.replicate(300, 1);
  CHECK((flow.log_prob(samples.points, repeated) - samples.log_prob).cwiseAbs().maxCoeff() <= 1e-8);
  Random same(1);
  CHECK(flow.sample(300, repeated, same) == samples.points);  // one row broadcast = the row repeated
  const Matrix<double> each = uniform_matrix(rng, 50, 2);
  Random again(2);
  const Samples<double> per_point = flow.sample_and_log_prob(50, each, again);
  CHECK((flow.log_prob(per_point.points, each) - per_point.log_prob).cwiseAbs().maxCoeff() <= 1e-8);
  // the round trip through the whole stack with a context
  const auto z = flow.forward(per_point.points, each);
  const auto back = flow.inverse(z.points, each);
  CHECK((back.points - per_point.points).cwiseAbs().maxCoeff() <= 1e-9);
  CHECK((z.log_det + back.log_det).cwiseAbs().maxCoeff() <= 1e-9);
  CHECK_THROWS_WITH(flow.sample(10, uniform_matrix(rng, 3, 2), draw), Catch::Contains("one context row for all 10"));
  CHECK_THROWS_WITH(flow.sample(10, uniform_matrix(rng, 1, 3), draw), Catch::Contains("expected a context of 10x2"));
  CHECK_THROWS_WITH(flow.sample(10, draw), Catch::Contains("conditioned on a context of 2 columns"));
  CHECK_THROWS_WITH(flow.log_prob(per_point.points), Catch::Contains("conditioned on a context"));
  Matrix<double> bad = each;
  bad(7, 1) = std::nan("");
  CHECK_THROWS_WITH(flow.log_prob(per_point.points, bad), Catch::Contains("(context): non-finite value nan at row 7, column 1"));
}

TEST_CASE("a stack refuses layers and bases of another context width", "[conditional]") {
  Random rng(16);
  FlowStack<double> flow(2, 3);
  CHECK_THROWS_WITH(flow.append(AffineCoupling<double>::make(alternating_mask<double>(2, 0), {8, 1, Activation::relu, 2},
                                                             Conditioner::shared, ScaleActivation::tanh, rng)),
                    Catch::Contains("reads a context of 2 columns, the stack's has 3"));
  CHECK_THROWS_AS(flow.set_base(std::make_unique<ConditionalDiagonalGaussian<double>>(2, ConditionerShape{4, 1, Activation::relu, 1}, rng)),
                  ShapeError);
  CHECK_THROWS_AS(flow.set_context_preprocess(RowVector<double>::Zero(2), RowVector<double>::Ones(2)), ShapeError);
  FlowStack<double> unconditional(2);
  CHECK_THROWS_AS(unconditional.append(AffineCoupling<double>::make(alternating_mask<double>(2, 0), {8, 1, Activation::relu, 2},
                                                                    Conditioner::shared, ScaleActivation::tanh, rng)),
                  ShapeError);
  const Matrix<double> x = uniform_matrix(rng, 4, 2);
  CHECK_THROWS_WITH(unconditional.log_prob(x, uniform_matrix(rng, 4, 1)), Catch::Contains("takes no context"));
}

TEST_CASE("the compile-time stack computes what the run-time stack does with a context", "[conditional]") {
  Random rng(17);
  const ConditionerShape shape{10, 2, Activation::tanh, 2};
  auto coupling = AffineCoupling<double>::make(alternating_mask<double>(3, 0), shape, Conditioner::shared, ScaleActivation::tanh, rng);
  auto maf = MaskedAutoregressive<double>::make(3, Transformer::affine(), shape, InputOrder::reverse, rng);
  for (auto* p : coupling.parameters()) p->value = uniform_matrix(rng, p->value.rows(), p->value.cols(), -0.5, 0.5);
  for (auto* p : maf.parameters()) p->value = uniform_matrix(rng, p->value.rows(), p->value.cols(), -0.5, 0.5);
  StaticFlowStack<AffineCoupling<double>, LeakyReLU<double>, MaskedAutoregressive<double>> fixed(coupling, LeakyReLU<double>(3, 0.7), maf);
  FlowStack<double> dynamic(3, 2);
  dynamic.append(coupling);
  dynamic.append(LeakyReLU<double>(3, 0.7));
  dynamic.append(maf);
  REQUIRE(fixed.context_dim() == 2);
  const Matrix<double> x = uniform_matrix(rng, 30, 3, -2, 2), c = uniform_matrix(rng, 30, 2);
  CHECK((fixed.log_prob(x, c) - dynamic.log_prob(x, c)).cwiseAbs().maxCoeff() <= 1e-13);
  const Matrix<double> one = uniform_matrix(rng, 1, 2);
  Random a(3), b(3);
  CHECK((fixed.sample(40, one, a) - dynamic.sample(40, one, b)).cwiseAbs().maxCoeff() <= 1e-12);
  Tape<double> tape;
  CHECK(fixed.negative_log_likelihood(tape, tape.constant(x), tape.constant(c)).value()(0, 0) ==
        Approx(-dynamic.log_prob(x, c).mean()).epsilon(1e-13));
  CHECK_THROWS_WITH(fixed.log_prob(x), Catch::Contains("conditioned on a context of 2 columns"));
}

TEMPLATE_TEST_CASE("a conditional model saves and loads bit-identically", "[conditional][io]", float, double) {
  Random rng(18);
  FlowStack<TestType> flow(2, 2);
  const ConditionerShape shape{8, 2, Activation::gelu, 2};
  flow.append(AffineCoupling<TestType>::make(alternating_mask<TestType>(2, 0), shape, Conditioner::separate, ScaleActivation::tanh, rng));
  flow.append(AdditiveCoupling<TestType>::make(alternating_mask<TestType>(2, 1), 8, 1, Activation::relu, rng, false, 2));
  flow.append(SplineCoupling<TestType>::make(alternating_mask<TestType>(2, 1), shape, {5, 3.0}, rng));
  flow.append(MaskedAutoregressive<TestType>::make(2, Transformer::affine(), shape, InputOrder::reverse, rng, false,
                                                   HiddenDegrees::random));
  flow.append(Inverted<MaskedAutoregressive<TestType>>(
      MaskedAutoregressive<TestType>::make(2, Transformer::rational_quadratic({4, 3.0}), shape, InputOrder::natural, rng)));
  flow.append(Planar<TestType>::random(2, rng));
  auto base = std::make_unique<ConditionalDiagonalGaussian<TestType>>(2, ConditionerShape{6, 1, Activation::tanh, 2}, rng);
  for (auto* p : base->parameters()) p->value.setConstant(TestType(0.05));
  flow.set_base(std::move(base));
  RowVector<TestType> shift(2), scale(2);
  shift << TestType(1), TestType(-2);
  scale << TestType(3), TestType(0.5);
  flow.set_context_preprocess(shift, scale);
  const std::string path = "eigenflow_test_conditional_model.json";
  save_model(path, flow);
  const FlowStack<TestType> loaded = load_model<TestType>(path);
  std::remove(path.c_str());
  CHECK(loaded.context_dim() == 2);
  const Matrix<TestType> x = rng.normal_matrix<TestType>(100, 2), c = rng.normal_matrix<TestType>(100, 2);
  CHECK(loaded.log_prob(x, c) == flow.log_prob(x, c));  // exact on purpose
  Random a(4), b(4);
  const Matrix<TestType> one = c.topRows(1);
  CHECK(loaded.sample(20, one, a) == flow.sample(20, one, b));
  CHECK(model_to_json(loaded) == model_to_json(flow));
}

TEST_CASE("malformed conditional model files are refused with the path of the problem", "[conditional][io]") {
  Random rng(19);
  FlowStack<double> flow(2, 1);
  flow.append(AffineCoupling<double>::make(alternating_mask<double>(2, 0), {4, 1, Activation::relu, 1}, Conditioner::shared,
                                           ScaleActivation::tanh, rng));
  flow.append(MaskedAutoregressive<double>::make(2, Transformer::affine(), {4, 1, Activation::relu, 1}, InputOrder::natural, rng));
  flow.set_base(std::make_unique<ConditionalDiagonalGaussian<double>>(2, ConditionerShape{4, 1, Activation::relu, 1}, rng));
  flow.set_context_preprocess(RowVector<double>::Constant(1, 0.5), RowVector<double>::Constant(1, 2.0));
  const nlohmann::json good = model_to_json(flow);
  CHECK(model_load_error(good) == "no error");
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json document = good;
    edit(document);
    return model_load_error(document);
  };
  CHECK_THAT(with([](auto& d) { d.erase("context_dim"); }), Catch::Contains("context_preprocess"));
  CHECK_THAT(with([](auto& d) { d["context_dim"] = 2; }), Catch::Contains("/context_preprocess/shift: expected 2 numbers"));
  CHECK_THAT(with([](auto& d) { d["context_dim"] = -1; }), Catch::Contains("context_dim must be a positive integer"));
  CHECK_THAT(with([](auto& d) { d["context_dim"] = "one"; }), Catch::Contains("context_dim"));
  CHECK_THAT(with([](auto& d) { d["context_preprocess"]["scale"][0] = 0.0; }), Catch::Contains("scale must be positive"));
  CHECK_THAT(with([](auto& d) {
               d.erase("context_preprocess");
               d.erase("context_dim");
             }),
             Catch::Contains("a conditional base needs a context_dim"));
  CHECK_THAT(with([](auto& d) { d["layers"][0]["context_dim"] = 3; }), Catch::Contains("/layers/0/net/layers/0/weight: expected rows of 5"));
  CHECK_THAT(with([](auto& d) { d["layers"][1]["context_dim"] = 0; }), Catch::Contains("/layers/1/hidden_degrees/0/0"));
  CHECK_THAT(with([](auto& d) {  // layers that agree with their networks but not with the model
               d["context_dim"] = 4;
               d.erase("context_preprocess");
               d["base"] = {{"type", "standard_normal"}};
             }),
             Catch::Contains("/layers/0: this layer reads a context of 1 columns, the model's context_dim is 4"));
  CHECK_THAT(with([](auto& d) { d["layers"][1]["hidden_degrees"][0][0] = -1; }), Catch::Contains("hidden degrees must lie in [0, 1]"));
  CHECK_THAT(with([](auto& d) { d["base"].erase("net"); }), Catch::Contains("base"));
}

TEST_CASE("training on rotated moons learns the exact conditional density at every angle", "[conditional][train]") {
  // p(x | c) is two moons turned by c (data/rotated_moons.hpp); the held-out forward
  // KL(p(·|c) ‖ q(·|c)) = E_p[log p − log q] is measured on fresh points at fixed c.
  const RotatedMoons truth(0.05);
  Random data_rng(20);
  const Matrix<double> train_rows = truth.generate(6000, data_rng), validation_rows = truth.generate(1000, data_rng);
  Random model_rng(21);
  FlowStack<double> flow(2, 1);
  const ConditionerShape shape{48, 2, Activation::relu, 1};
  for (int k = 0; k < 6; ++k)
    flow.append(SplineCoupling<double>::make(alternating_mask<double>(2, k % 2), shape, {8, 4.0}, model_rng, true));
  const Standardization x_scale = Standardization::fit(train_rows.leftCols(2));
  flow.set_preprocess(x_scale.shift, x_scale.scale);
  const Standardization c_scale = Standardization::fit(train_rows.rightCols(1));
  flow.set_context_preprocess(c_scale.shift, c_scale.scale);
  AdamOptions adam;
  adam.learning_rate = 3e-3;
  Adam<double> optimizer(flow.parameters(), adam);
  TrainOptions options;
  options.epochs = 40;
  options.batch_size = 128;
  options.patience = 10;
  options.schedule = LearningRateSchedule::cosine(3e-3, 40 * 47, 3e-5);
  train(flow, optimizer, Matrix<double>(train_rows.leftCols(2)), Matrix<double>(train_rows.rightCols(1)),
        Matrix<double>(validation_rows.leftCols(2)), Matrix<double>(validation_rows.rightCols(1)), options);
  Random test_rng(22);
  for (const double angle : {0.0, M_PI / 4, M_PI / 2, 3 * M_PI / 4}) {
    const ColumnVector<double> angles = ColumnVector<double>::Constant(4000, angle);
    const Matrix<double> x = truth.sample(angles, test_rng);
    const double kl = (truth.log_prob(x, angles) - flow.log_prob(x, Matrix<double>(angles))).mean();
    INFO("angle " << angle << ": KL " << kl);
    std::cout << "[report] rotated moons, held-out forward KL at c = " << angle << ": " << kl << "\n";
    CHECK(kl > -0.03);  // below 0 only by sampling noise: the model's density integrates to 1
    CHECK(kl < 0.15);
  }
}

TEST_CASE("conditional training refuses contexts that do not match the data", "[conditional][train]") {
  Random rng(23);
  FlowStack<double> flow(2, 1);
  flow.append(AffineCoupling<double>::make(alternating_mask<double>(2, 0), {4, 1, Activation::relu, 1}, Conditioner::shared,
                                           ScaleActivation::tanh, rng));
  Adam<double> optimizer(flow.parameters(), AdamOptions{});
  TrainOptions options;
  options.epochs = 1;
  const Matrix<double> x = uniform_matrix(rng, 20, 2), c = uniform_matrix(rng, 20, 1), empty(0, 2);
  const std::vector<Matrix<double>> before = {flow.parameters()[0]->value};
  CHECK_THROWS_WITH(train(flow, optimizer, x, Matrix<double>(uniform_matrix(rng, 19, 1)), empty, Matrix<double>(0, 1), options),
                    Catch::Contains("training context"));
  Matrix<double> bad = c;
  bad(3, 0) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(train(flow, optimizer, x, bad, empty, Matrix<double>(0, 1), options),
                    Catch::Contains("non-finite value inf at row 3"));
  CHECK_THROWS_WITH(train(flow, optimizer, x, c, x, Matrix<double>(uniform_matrix(rng, 20, 2)), options),
                    Catch::Contains("validation context"));
  CHECK(flow.parameters()[0]->value == before[0]);  // nothing was trained
  CHECK_NOTHROW(train(flow, optimizer, x, c, empty, Matrix<double>(0, 1), options));
}

TEST_CASE("a conditional batch gradient is the same on one worker and on two", "[conditional][train]") {
  Random rng(24);
  FlowStack<double> flow(2, 2);
  flow.append(MaskedAutoregressive<double>::make(2, Transformer::affine(), {8, 1, Activation::tanh, 2}, InputOrder::natural, rng));
  const Matrix<double> x = uniform_matrix(rng, 64, 2), c = uniform_matrix(rng, 64, 2);
  const auto parameters = flow.parameters();
  BatchGradient<double> one(1), two(2, 16);
  for (auto* p : parameters) p->zero_grad();
  const double loss_one = one(flow, x, c);
  std::vector<Matrix<double>> grads;
  for (auto* p : parameters) grads.push_back(p->grad);
  for (auto* p : parameters) p->zero_grad();
  const double loss_two = two(flow, x, c);
  CHECK(loss_one == Approx(loss_two).epsilon(1e-13));
  CHECK(loss_one == Approx(-flow.log_prob(x, c).mean()).epsilon(1e-13));
  for (std::size_t k = 0; k < parameters.size(); ++k) CHECK((parameters[k]->grad - grads[k]).cwiseAbs().maxCoeff() <= 1e-13);
}

TEST_CASE("a one-dimensional x has a conditional density: layers that transform it whole as a function of c", "[conditional]") {
  // An all-zero mask (or a one-input MADE) makes every parameter a function of c alone; the
  // density of x given c must integrate to one and keep the conformance properties.
  Random rng(25);
  const RowVector<double> whole = RowVector<double>::Zero(1);
  const ConditionerShape shape{10, 2, Activation::tanh, 2};
  FlowStack<double> flow(1, 2);
  flow.append(SplineCoupling<double>::make(whole, shape, {6, 3.0}, rng));
  flow.append(AffineCoupling<double>::make(whole, shape, Conditioner::shared, ScaleActivation::tanh, rng));
  flow.append(MaskedAutoregressive<double>::make(1, Transformer::rational_quadratic({5, 3.0}), shape, InputOrder::natural, rng));
  flow.append(Inverted<MaskedAutoregressive<double>>(MaskedAutoregressive<double>::make(1, Transformer::affine(), shape, InputOrder::natural, rng)));
  flow.append(AdditiveCoupling<double>::make(whole, 8, 1, Activation::relu, rng, false, 2));
  for (std::size_t k = 0; k < flow.size(); ++k)
    for (auto* p : flow.layer(k).parameters()) p->value = uniform_matrix(rng, p->value.rows(), p->value.cols(), -0.5, 0.5);
  const Index cells = 20000;
  const double half_width = 15, h = 2 * half_width / cells;
  Matrix<double> grid(cells, 1);
  for (Index i = 0; i < cells; ++i) grid(i, 0) = -half_width + (static_cast<double>(i) + 0.5) * h;
  for (const auto& c : {context_row(0, 0), context_row(1.2, -0.8), context_row(-2, 1.5)}) {
    INFO("c = " << c);
    const Matrix<double> at_c = c.replicate(cells, 1);
    CHECK(flow.log_prob(grid, at_c).array().exp().sum() * h == Approx(1.0).margin(1e-3));
    // log-det against the derivative by central differences, and the round trip
    const Matrix<double> x = uniform_matrix(rng, 9, 1, -2, 2), c9 = c.replicate(9, 1);
    const auto z = flow.forward(x, c9);
    for (Index i = 0; i < 9; ++i) {
      Matrix<double> above = x.row(i), below = x.row(i);
      above(0, 0) += 1e-5;
      below(0, 0) -= 1e-5;
      const double slope = (flow.forward(above, c).points(0, 0) - flow.forward(below, c).points(0, 0)) / 2e-5;
      CHECK(z.log_det(i) == Approx(std::log(std::abs(slope))).margin(1e-7));
    }
    const auto back = flow.inverse(z.points, c9);
    CHECK((back.points - x).cwiseAbs().maxCoeff() <= 1e-10);
  }
  // gradients for the parameters, x and c
  const Matrix<double> x = uniform_matrix(rng, 7, 1, -2, 2), c = uniform_matrix(rng, 7, 2);
  CHECK(check_parameter_gradients([&](Tape<double>& tape) { return mean(flow.log_prob(tape, tape.constant(x), tape.constant(c))); },
                                  flow.parameters())
            .passed);
  CHECK(check_gradient([&](Tape<double>& tape, const std::vector<Var<double>>& in) { return mean(flow.log_prob(tape, in[0], in[1])); },
                       {x, c})
            .passed);
  // an all-zero mask without a context is still refused
  CHECK_THROWS_WITH(SplineCoupling<double>::make(whole, {10, 2, Activation::tanh}, {6, 3.0}, rng), Catch::Contains("only with a context"));
  CHECK_THROWS_AS(MaskedAutoregressive<double>::make(1, Transformer::affine(), {10, 2, Activation::tanh}, InputOrder::natural, rng),
                  ValueError);
}
