// The linear family (flows/linear/): what the shared conformance loop
// (test_layers.cpp) does not see — W = P·L·U′ against a product formed by
// hand, log-dets against Eigen's determinant, the LU and dense forms of one
// W, round trips at D = 32, ActNorm's data-dependent initialisation through
// the trainer, and singular or non-finite parameters refused.
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
    if (layer_case.name != "actnorm" && layer_case.name != "lu_linear" && layer_case.name != "dense_linear") continue;
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
