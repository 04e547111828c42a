// MLP: gradient of a 3-layer network against finite differences, every
// activation; shapes and construction errors.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::uniform_matrix;

TEST_CASE("a 3-layer MLP's parameter gradient matches finite differences", "[mlp]") {
  const Activation activation = GENERATE(Activation::relu, Activation::leaky_relu, Activation::tanh,
                                         Activation::elu, Activation::silu, Activation::gelu,
                                         Activation::gelu_tanh);
  Random rng(31);
  Mlp<double> net({4, 9, 2, 3, activation}, rng);  // 3 dense layers: 4 -> 9 -> 9 -> 3
  REQUIRE(net.layers().size() == 3);
  const Matrix<double> batch = uniform_matrix(rng, 13, 4, -2, 2);
  const Matrix<double> target = uniform_matrix(rng, 13, 3);
  const auto result = check_parameter_gradients(
      [&](Tape<double>& tape) {
        TapeContext<double> context{tape};
        auto out = net.apply(context, tape.constant(batch));
        return mean(square(out - tape.constant(target)));
      },
      net.parameters());
  INFO(to_string(activation) << ": " << result.worst);
  CHECK(result.passed);
  CHECK(result.max_error <= 1e-6);
}

TEST_CASE("the MLP's plain and taped outputs are identical", "[mlp]") {
  Random rng(37);
  Mlp<double> net({2, 5, 3, 4, Activation::gelu}, rng);
  const Matrix<double> x = uniform_matrix(rng, 6, 2);
  Tape<double> tape;
  TapeContext<double> context{tape};
  CHECK(net.apply(context, tape.constant(x)).value() == net(x));
  CHECK(net(x).rows() == 6);
  CHECK(net(x).cols() == 4);
}

TEST_CASE("a zero last layer makes the network output zero", "[mlp]") {
  Random rng(41);
  Mlp<double> net({3, 8, 2, 3, Activation::relu}, rng, true);
  CHECK(net(uniform_matrix(rng, 5, 3)).isZero());
}

TEST_CASE("MLP construction rejects impossible shapes", "[mlp]") {
  Random rng(1);
  CHECK_THROWS_AS(Mlp<double>({0, 8, 2, 3, Activation::relu}, rng), ValueError);
  CHECK_THROWS_AS(Mlp<double>({3, 0, 2, 3, Activation::relu}, rng), ValueError);
  CHECK_THROWS_AS(Mlp<double>({3, 8, -1, 3, Activation::relu}, rng), ValueError);
  CHECK_THROWS_WITH(parse_activation("swish"), Catch::Contains("swish") && Catch::Contains("gelu"));
  CHECK(parse_activation("gelu_tanh") == Activation::gelu_tanh);
  Mlp<double> net({3, 8, 1, 2, Activation::relu}, rng);
  CHECK_THROWS_WITH(net(Matrix<double>::Zero(4, 5)), Catch::Contains("4x5"));
}
