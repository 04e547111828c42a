// The linear family (flows/linear/): what the shared conformance loop
// (test_layers.cpp) does not see — W = P·L·U′ against a product formed by
// hand, log-dets against Eigen's determinant, the LU and dense forms of one
// W, round trips at D = 32, ActNorm's data-dependent initialisation through
// the trainer, and singular or non-finite parameters refused; BatchNorm's
// training passes (batch statistics, gradients through them) and the
// population statistics the trainer leaves.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include <Eigen/LU>

#include <cmath>
#include <limits>
#include <vector>

#include "layer_zoo.hpp"
#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::random_lu_linear;
using eigenflow::test::random_weight;
using eigenflow::test::uniform_matrix;

TEST_CASE("lu_linear is z = W x with W = P L U' formed by hand, log-det log|det W|", "[linear]") {
  Random rng(1);
  for (Index dim : {1, 2, 5, 9}) {
    const LuLinear<double> layer = random_lu_linear(dim, rng);
    Matrix<double> lower = Matrix<double>::Identity(dim, dim), upper = Matrix<double>::Zero(dim, dim), p = Matrix<double>::Zero(dim, dim);
    for (Index i = 0; i < dim; ++i) {
      for (Index j = 0; j < dim; ++j) {
        if (i > j) lower(i, j) = layer.lower()(i, j);
        if (i < j) upper(i, j) = layer.upper()(i, j);
      }
      upper(i, i) = layer.sign()(i) * std::exp(layer.log_abs_s()(0, i));
      p(i, layer.perm()[static_cast<std::size_t>(i)]) = 1;
    }
    const Matrix<double> w = p * lower * upper;
    INFO("D=" << dim);
    CHECK((layer.weight() - w).cwiseAbs().maxCoeff() <= 1e-14);
    const Matrix<double> x = uniform_matrix(rng, 7, dim, -2, 2);
    const auto out = layer.forward(x);
    CHECK((out.points - x * w.transpose()).cwiseAbs().maxCoeff() <= 1e-13);
    const double log_det = std::log(std::abs(w.determinant()));
    CHECK((out.log_det.array() - log_det).abs().maxCoeff() <= 1e-12);
    CHECK((layer.inverse(out.points).points - x).cwiseAbs().maxCoeff() <= 1e-12);
  }
}

TEST_CASE("lu_linear starts as a random rotation", "[linear]") {
  Random rng(2);
  for (Index dim : {2, 8, 32}) {
    const LuLinear<double> layer = LuLinear<double>::random(dim, rng);
    const Matrix<double> w = layer.weight();
    INFO("D=" << dim);
    CHECK((w.transpose() * w - Matrix<double>::Identity(dim, dim)).cwiseAbs().maxCoeff() <= 1e-12);
    CHECK(std::abs(layer.log_abs_s().sum()) <= 1e-12);
    CHECK((w - Matrix<double>::Identity(dim, dim)).cwiseAbs().maxCoeff() > 0.1);  // not the identity
  }
  Random a(3), b(3);
  CHECK(LuLinear<double>::random(6, a).weight() == LuLinear<double>::random(6, b).weight());
}

TEST_CASE("lu_linear factorizes any invertible W, pivoting where it must", "[linear]") {
  Random rng(11);
  for (Index dim : {1, 3, 8}) {
    Matrix<double> w = random_weight(dim, rng);
    if (dim > 1) w(0, 0) = 0;  // the first pivot must come from another row
    const LuLinear<double> layer = LuLinear<double>::factorize(w);
    CHECK((layer.weight() - w).cwiseAbs().maxCoeff() <= 1e-12 * std::max(1.0, w.cwiseAbs().maxCoeff()));
    const Matrix<double> x = uniform_matrix(rng, 5, dim);
    CHECK(layer.forward(x).log_det(0) == Approx(std::log(std::abs(w.determinant()))).epsilon(1e-12));
  }
  CHECK_THROWS_AS(LuLinear<double>::factorize(Matrix<double>::Zero(3, 3)), ValueError);
  CHECK_THROWS_AS(LuLinear<double>::factorize(Matrix<double>::Ones(2, 3)), ShapeError);
  CHECK_THROWS_AS(LuLinear<double>::factorize(Matrix<double>::Constant(2, 2, std::numeric_limits<double>::quiet_NaN())), ValueError);
}

TEST_CASE("zca_whitening whitens its rows, and behind their mean makes their full-covariance Gaussian", "[linear]") {
  Random rng(12);
  const Index dim = 5;
  const Matrix<double> mixing = random_weight(dim, rng);
  const Matrix<double> rows = (rng.normal_matrix<double>(400, dim) * mixing.transpose()).rowwise() + RowVector<double>::LinSpaced(dim, -2, 2);
  const LuLinear<double> whitening = zca_whitening<double>(rows);
  const Matrix<double> w = whitening.weight();
  CHECK((w - w.transpose()).cwiseAbs().maxCoeff() <= 1e-10);  // ZCA: the symmetric whitening
  const Matrix<double> centred = rows.rowwise() - rows.colwise().mean();
  const Matrix<double> z = whitening.forward(centred).points;
  const Matrix<double> covariance = z.transpose() * z / static_cast<double>(rows.rows());
  CHECK((covariance - Matrix<double>::Identity(dim, dim)).cwiseAbs().maxCoeff() <= 1e-10);
  // As a flow: shift to the mean (the preprocess), the whitening, a standard normal.
  FlowStack<double> flow(dim);
  flow.set_preprocess(rows.colwise().mean(), RowVector<double>::Ones(dim));
  flow.append(whitening);
  const Matrix<double> held_out = rng.normal_matrix<double>(50, dim) * 2;
  const ColumnVector<double> expected = FullCovarianceGaussian::fit(rows).log_prob(held_out);
  CHECK((flow.log_prob(held_out) - expected).cwiseAbs().maxCoeff() <= 1e-10);
  CHECK_THROWS_WITH(zca_whitening<double>(rows.topRows(dim)), Catch::Contains("more rows than columns"));
  Matrix<double> constant_column = rows;
  constant_column.col(2).setConstant(1.0);
  CHECK_THROWS_WITH(zca_whitening<double>(constant_column), Catch::Contains("singular"));
}

TEST_CASE("the LU and the dense form of one W compute the same map", "[linear]") {
  Random rng(4);
  const LuLinear<double> lu = random_lu_linear(6, rng);
  const DenseLinear<double> dense(lu.weight());
  const Matrix<double> x = uniform_matrix(rng, 20, 6, -3, 3);
  const auto a = lu.forward(x), b = dense.forward(x);
  CHECK((a.points - b.points).cwiseAbs().maxCoeff() <= 1e-13);
  CHECK((a.log_det - b.log_det).cwiseAbs().maxCoeff() <= 1e-12);
  const auto c = lu.inverse(x), d = dense.inverse(x);
  CHECK((c.points - d.points).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((c.log_det - d.log_det).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("the linear family inverts to 1e-10 at D = 32", "[linear]") {
  Random rng(5);
  for (const auto& layer_case : eigenflow::test::all_layer_cases()) {
    if (layer_case.name != "actnorm" && layer_case.name != "lu_linear" && layer_case.name != "dense_linear" &&
        layer_case.name != "batch_norm (population statistics)")
      continue;
    const auto layer = layer_case.make(32, rng);
    const Matrix<double> x = uniform_matrix(rng, 100, 32, -3, 3);
    const auto there = layer->forward(x);
    const auto back = layer->inverse(there.points);
    INFO(layer_case.name);
    CHECK((back.points - x).cwiseAbs().maxCoeff() <= 1e-10);
    CHECK((there.log_det + back.log_det).cwiseAbs().maxCoeff() <= 1e-10);
  }
}

TEST_CASE("actnorm initialises from its first batch, once", "[linear]") {
  Random rng(6);
  Matrix<double> batch = rng.normal_matrix<double>(500, 3);
  batch.col(0) = batch.col(0) * 4.0 + Matrix<double>::Constant(500, 1, 10.0);
  batch.col(2) *= 0.01;
  ActNorm<double> layer(3);
  CHECK_FALSE(layer.initialized());
  layer.initialize(batch);
  CHECK(layer.initialized());
  const Matrix<double> z = layer.forward(batch).points;
  CHECK(z.colwise().mean().cwiseAbs().maxCoeff() <= 1e-12);
  const RowVector<double> variance = (z.rowwise() - z.colwise().mean()).array().square().colwise().mean();
  CHECK((variance.array() - 1.0).abs().maxCoeff() <= 1e-12);
  const Matrix<double> bias = layer.bias();
  layer.initialize(rng.normal_matrix<double>(10, 3));  // a second batch changes nothing
  CHECK(layer.bias() == bias);

  // A constant column keeps s = 0 instead of dividing by zero.
  ActNorm<double> flat(2);
  Matrix<double> constant_column = rng.normal_matrix<double>(20, 2);
  constant_column.col(1).setConstant(3.0);
  flat.initialize(constant_column);
  CHECK(flat.log_scale()(0, 1) == 0.0);
  CHECK(flat.bias()(0, 1) == 3.0);
}

TEST_CASE("training initialises an actnorm inside a stack from the first batch; a loaded one stays as saved", "[linear]") {
  Random rng(7);
  Matrix<double> data = rng.normal_matrix<double>(300, 2);
  data.col(1) = data.col(1) * 3.0 + Matrix<double>::Constant(300, 1, -2.0);
  FlowStack<double> flow(2);
  flow.append(LuLinear<double>::random(2, rng));
  flow.append(ActNorm<double>(2));
  AdamOptions adam;
  adam.learning_rate = 1e-12;  // Adam moves each parameter by ~1e-12 a step: the initialisation is what shows
  adam.weight_decay = 0;
  AdamW<double> optimizer(flow.parameters(), adam);
  TrainOptions options;
  options.epochs = 1;
  options.batch_size = 0;  // the first batch is all of the data
  train(flow, optimizer, data, Matrix<double>(0, 2), options);
  const auto& actnorm = static_cast<const ActNorm<double>&>(flow.layer(1));
  REQUIRE(actnorm.initialized());
  // It normalises what reaches it: the data after the rotation.
  const Matrix<double> rotated = flow.layer(0).forward(data).points;
  CHECK((actnorm.bias() - rotated.colwise().mean()).cwiseAbs().maxCoeff() <= 1e-9);
  CHECK(rotated.colwise().mean().cwiseAbs().maxCoeff() > 0.5);  // far from the uninitialised 0

  const FlowStack<double> loaded = model_from_json<double>(model_to_json(flow));
  FlowStack<double> again = loaded;
  AdamW<double> second(again.parameters(), adam);
  train(again, second, Matrix<double>(data * 5.0), Matrix<double>(0, 2), options);
  // Five times the data would give five times the bias if it re-initialised.
  CHECK((static_cast<const ActNorm<double>&>(again.layer(1)).bias() - actnorm.bias()).cwiseAbs().maxCoeff() <= 1e-9);
}

TEST_CASE("singular or non-finite linear layers are refused", "[linear]") {
  Matrix<double> singular(2, 2);
  singular << 1, 2, 2, 4;
  CHECK_THROWS_WITH(DenseLinear<double>(singular), Catch::Contains("singular"));
  Matrix<double> not_finite = Matrix<double>::Identity(2, 2);
  not_finite(0, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(DenseLinear<double>(not_finite), Catch::Contains("NaN"));
  CHECK_THROWS_AS(DenseLinear<double>(Matrix<double>::Identity(2, 3)), ShapeError);
  Matrix<double> nearly(2, 2);  // rank one but for the last bit
  nearly << 1, 2, 2, 4 + 1e-15;
  CHECK_THROWS_WITH(DenseLinear<double>(nearly), Catch::Contains("singular"));
  CHECK(DenseLinear<double>(Matrix<double>::Identity(3, 3) * 1e-200).forward(Matrix<double>::Ones(1, 3)).log_det(0) ==
        Approx(3 * std::log(1e-200)));  // tiny but well conditioned: fine

  const Matrix<double> zeros = Matrix<double>::Zero(2, 2);
  const RowVector<double> ones = RowVector<double>::Ones(2);
  CHECK_THROWS_WITH(LuLinear<double>({0, 1}, not_finite, zeros, ones, RowVector<double>::Zero(2)), Catch::Contains("finite"));
  CHECK_THROWS_WITH(LuLinear<double>({0, 0}, zeros, zeros, ones, RowVector<double>::Zero(2)), Catch::Contains("exactly once"));
  RowVector<double> half(2);
  half << 1, 0.5;
  CHECK_THROWS_WITH(LuLinear<double>({0, 1}, zeros, zeros, half, RowVector<double>::Zero(2)), Catch::Contains("1 or -1"));
  CHECK_THROWS_AS(LuLinear<double>({0, 1}, zeros, Matrix<double>::Zero(3, 3), ones, RowVector<double>::Zero(2)), ShapeError);
  CHECK_THROWS_AS(ActNorm<double>(RowVector<double>::Zero(2), RowVector<double>::Zero(3), true), ShapeError);
  CHECK_THROWS_AS(ActNorm<double>(0), ValueError);
  CHECK_THROWS_WITH(ActNorm<double>(2).initialize(Matrix<double>::Zero(3, 5)), Catch::Contains("actnorm.initialize"));
  CHECK_THROWS_AS(log_abs_det(Matrix<double>(singular)), NumericalError);
}

TEST_CASE("the linear family works in float", "[linear]") {
  Random rng(8);
  const Matrix<float> x = uniform_matrix(rng, 30, 8, -2, 2).cast<float>();
  FlowStack<float> flow(8);
  flow.append(ActNorm<float>(8)).initialize(x);
  flow.append(LuLinear<float>::random(8, rng));
  flow.append(DenseLinear<float>(random_weight(8, rng).cast<float>()));
  const auto there = flow.forward(x);
  const auto back = flow.inverse(there.points);
  CHECK((back.points - x).cwiseAbs().maxCoeff() <= 1e-5f);
  CHECK((there.log_det + back.log_det).cwiseAbs().maxCoeff() <= 1e-5f);
}

namespace {
// z = (x − m)·exp(log γ − ½·log(v + ε)) + β with m, v the batch's own (biased) moments, by hand.
Matrix<double> batch_normalized_by_hand(const Matrix<double>& x, const RowVector<double>& log_gamma,
                                        const RowVector<double>& beta, double epsilon, RowVector<double>& log_scale) {
  const RowVector<double> m = x.colwise().mean();
  Matrix<double> z(x.rows(), x.cols());
  log_scale.resize(x.cols());
  for (Index j = 0; j < x.cols(); ++j) {
    const double v = (x.col(j).array() - m(j)).square().sum() / static_cast<double>(x.rows());
    log_scale(j) = log_gamma(j) - 0.5 * std::log(v + epsilon);
    z.col(j) = ((x.col(j).array() - m(j)) * std::exp(log_scale(j)) + beta(j)).matrix();
  }
  return z;
}
}  // namespace

TEST_CASE("batch_norm: a training pass normalises by its own rows; with the statistics set to them, evaluation is the same map", "[linear]") {
  Random rng(61);
  Matrix<double> x = rng.normal_matrix<double>(64, 3);
  x.col(0) = x.col(0) * 4.0 + Matrix<double>::Constant(64, 1, 10.0);
  x.col(1) *= 0.05;
  const RowVector<double> log_gamma = (RowVector<double>(3) << 0.3, -0.2, 0.1).finished();
  const RowVector<double> beta = (RowVector<double>(3) << 0.5, -1.0, 2.0).finished();
  const double epsilon = 1e-4;
  BatchNorm<double> layer(log_gamma, beta, RowVector<double>::Zero(3), RowVector<double>::Ones(3), epsilon);

  RowVector<double> log_scale;
  const Matrix<double> expected = batch_normalized_by_hand(x, log_gamma, beta, epsilon, log_scale);
  Tape<double> tape;
  tape.set_batch_statistics(true);
  const auto trained = layer.forward(tape, tape.constant(x));
  CHECK((trained.points.value() - expected).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((trained.log_det.value().array() - log_scale.sum()).abs().maxCoeff() <= 1e-12);
  CHECK((trained.points.value().colwise().mean() - beta).cwiseAbs().maxCoeff() <= 1e-12);

  // Evaluation uses the population statistics: before they are set, another map.
  CHECK((layer.forward(x).points - expected).cwiseAbs().maxCoeff() > 1.0);
  layer.update_statistics(x);
  CHECK((layer.mean() - x.colwise().mean()).cwiseAbs().maxCoeff() <= 1e-12);
  const auto evaluated = layer.forward(x);
  CHECK((evaluated.points - expected).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((evaluated.log_det - trained.log_det.value()).cwiseAbs().maxCoeff() <= 1e-12);
  // A tape that is not training evaluates too; the inverse undoes either.
  Tape<double> evaluation;
  CHECK((layer.forward(evaluation, evaluation.constant(x)).points.value() - evaluated.points).cwiseAbs().maxCoeff() == 0.0);
  const auto back = layer.inverse(evaluated.points);
  CHECK((back.points - x).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((back.log_det + evaluated.log_det).cwiseAbs().maxCoeff() <= 1e-12);

  // One row has no variance: its training pass falls back to the population statistics.
  Tape<double> single;
  single.set_batch_statistics(true);
  const Matrix<double> row = x.topRows(1);
  CHECK((layer.forward(single, single.constant(row)).points.value() - layer.forward(row).points).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("batch_norm's training pass has finite-difference gradients for its parameters and, through the batch statistics, its inputs", "[linear]") {
  Random rng(62);
  const RowVector<double> log_gamma = uniform_matrix(rng, 1, 4, -0.5, 0.5);
  const RowVector<double> beta = uniform_matrix(rng, 1, 4);
  BatchNorm<double> layer(log_gamma, beta, RowVector<double>::Zero(4), RowVector<double>::Ones(4), 1e-3);
  const Matrix<double> x = uniform_matrix(rng, 9, 4, -2.0, 2.0);
  const Matrix<double> weights = uniform_matrix(rng, 9, 4);
  // a loss on both outputs, as a deeper layer or the base would see them
  auto loss_of = [&](Tape<double>& tape, const Var<double>& points) {
    tape.set_batch_statistics(true);
    const auto out = layer.forward(tape, points);
    return add(mean(mask_multiply(out.points, weights)), mean(out.log_det));
  };
  const auto parameters = check_parameter_gradients([&](Tape<double>& tape) { return loss_of(tape, tape.constant(x)); },
                                                    layer.parameters());
  INFO(parameters.worst);
  CHECK(parameters.passed);
  const auto inputs = check_gradient([&](Tape<double>& tape, const std::vector<Var<double>>& in) { return loss_of(tape, in[0]); },
                                     {x});
  INFO(inputs.worst);
  CHECK(inputs.passed);
  // The batch statistics carry gradient: d/dx differs from that of the fixed map with the same m, v.
  layer.update_statistics(x);
  Tape<double> tape;
  tape.set_batch_statistics(true);
  const Var<double> through = tape.variable(x);
  tape.backward(loss_of(tape, through));
  Tape<double> fixed_tape;
  const Var<double> fixed = fixed_tape.variable(x);
  const auto out = layer.forward(fixed_tape, fixed);
  fixed_tape.backward(add(mean(mask_multiply(out.points, weights)), mean(out.log_det)));
  CHECK((through.adjoint() - fixed.adjoint()).cwiseAbs().maxCoeff() > 1e-3);
}

TEST_CASE("training a stack with batch norm leaves the population statistics of the kept parameters' inputs", "[linear]") {
  Random rng(63);
  Matrix<double> data = rng.normal_matrix<double>(600, 2);
  data.col(1) = data.col(1) * 3.0 + data.col(0).array().square().matrix();
  const Matrix<double> validation = data.bottomRows(100);
  const Matrix<double> train_rows = data.topRows(500);
  FlowStack<double> flow(2);
  flow.append(AffineCoupling<double>::make(alternating_mask<double>(2, 0), {8, 1, Activation::tanh}, Conditioner::separate,
                                           ScaleActivation::tanh, rng));
  flow.append(BatchNorm<double>(2));
  flow.append(AffineCoupling<double>::make(alternating_mask<double>(2, 1), {8, 1, Activation::tanh}, Conditioner::separate,
                                           ScaleActivation::tanh, rng));
  flow.append(BatchNorm<double>(2));
  REQUIRE(flow.has_statistics());
  AdamW<double> optimizer(flow.parameters(), {});
  TrainOptions options;
  options.epochs = 6;
  options.batch_size = 64;
  const TrainResult result = train(flow, optimizer, train_rows, validation, options);
  CHECK(result.kept_epoch >= 1);
  // Each batch norm holds the moments of what reaches it under the final parameters.
  Matrix<double> inputs = train_rows;
  for (const Index k : {Index(0), Index(2)}) {
    inputs = flow.layer(k).forward(inputs).points;
    const auto& norm = static_cast<const BatchNorm<double>&>(flow.layer(k + 1));
    const RowVector<double> m = inputs.colwise().mean();
    const RowVector<double> v = (inputs.rowwise() - m).array().square().colwise().mean();
    CHECK((norm.mean() - m).cwiseAbs().maxCoeff() <= 1e-12);
    CHECK(((norm.variance() - v).array() / v.array()).abs().maxCoeff() <= 1e-12);
    CHECK(v.minCoeff() > 0.01);  // not the initial (0, 1)
    inputs = norm.forward(inputs).points;
  }
  // So the training data leaves the stack standardised up to the last layer's γ, β.
  const auto& last = static_cast<const BatchNorm<double>&>(flow.layer(3));
  CHECK((inputs.colwise().mean() - last.beta()).cwiseAbs().maxCoeff() <= 1e-10);
  CHECK(std::isfinite(mean_negative_log_likelihood(flow, validation)));
}

TEST_CASE("batch_norm refuses bad statistics and hyper-parameters", "[linear]") {
  const RowVector<double> zeros = RowVector<double>::Zero(2), ones = RowVector<double>::Ones(2);
  CHECK_THROWS_AS(BatchNorm<double>(zeros, zeros, zeros, (RowVector<double>(2) << 1.0, -1.0).finished(), 1e-5), ValueError);
  CHECK_THROWS_AS(BatchNorm<double>(zeros, zeros, zeros, ones, 0.0), ValueError);
  CHECK_THROWS_AS(BatchNorm<double>(zeros, zeros, zeros, ones, std::numeric_limits<double>::quiet_NaN()), ValueError);
  CHECK_THROWS_AS(BatchNorm<double>(zeros, zeros, RowVector<double>::Zero(3), ones, 1e-5), ShapeError);
  CHECK_THROWS_AS(BatchNorm<double>(0), ValueError);
  BatchNorm<double> layer(2);
  Matrix<double> bad = Matrix<double>::Ones(4, 2);
  bad(2, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(layer.update_statistics(bad), ValueError);
  CHECK_THROWS_AS(layer.update_statistics(Matrix<double>::Ones(4, 3)), ShapeError);
  SingleProcess one_rank;  // the data-parallel path refuses the same inputs, leaving nothing changed
  CHECK_THROWS_AS(layer.update_statistics(bad, &one_rank), ValueError);
  CHECK_THROWS_AS(layer.update_statistics(Matrix<double>::Ones(4, 3), &one_rank), ShapeError);
  CHECK(layer.variance() == ones);  // nothing changed
  // and with good inputs gives the statistics the one-process path gives (tests/mpi: over ranks)
  Random rng(4);
  const Matrix<double> x = rng.normal_matrix<double>(50, 2) * 3.0;
  BatchNorm<double> pooled(2);
  layer.update_statistics(x);
  pooled.update_statistics(x, &one_rank);
  CHECK((pooled.mean() - layer.mean()).cwiseAbs().maxCoeff() <= 1e-15);
  CHECK((pooled.variance() - layer.variance()).cwiseAbs().maxCoeff() <= 1e-14);
}
