// The tape as a machine: reuse, memory, determinism, float support.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::uniform_matrix;

namespace {

/// One "training step" of a small two-layer network on a fixed batch.
template <class S>
S step(Tape<S>& tape, Mlp<S>& net, const Matrix<S>& batch, ParameterGradients mode = ParameterGradients::accumulate) {
  tape.clear();
  zero_grad(net.parameters());
  TapeContext<S> context{tape};
  auto out = net.apply(context, tape.constant(batch));
  auto loss = mean(square(out));
  tape.backward(loss, mode);
  return loss.value()(0, 0);
}

template <class S>
std::vector<Matrix<S>> gradients_of(Mlp<S>& net) {
  std::vector<Matrix<S>> out;
  for (auto* p : net.parameters()) out.push_back(p->grad);
  return out;
}

}  // namespace

TEST_CASE("backward of a simple expression gives the analytic gradient", "[tape]") {
  Tape<double> tape;
  Matrix<double> data(2, 2);
  data << 1.0, 2.0, 3.0, 4.0;
  auto x = tape.variable(data);
  auto loss = sum(square(x));  // dL/dx = 2x
  tape.backward(loss);
  CHECK(x.adjoint() == 2.0 * data);
  CHECK(loss.value()(0, 0) == 30.0);
}

TEST_CASE("parameters accumulate gradients until zero_grad", "[tape]") {
  Parameter<double> p("p", Matrix<double>::Constant(2, 3, 1.5));
  Tape<double> tape;
  for (int round = 1; round <= 3; ++round) {
    tape.clear();
    tape.backward(sum(tape.parameter(p)));
    CHECK(p.grad == Matrix<double>::Constant(2, 3, round));
  }
  p.zero_grad();
  CHECK(p.grad.isZero());
}

TEST_CASE("deferred parameter gradients arrive in add_parameter_gradients, once", "[tape]") {
  Random rng(4);
  Mlp<double> net({3, 8, 1, 2, Activation::tanh}, rng);
  const Matrix<double> batch = uniform_matrix(rng, 10, 3);
  Tape<double> tape;
  step(tape, net, batch);
  const std::vector<Matrix<double>> expected = gradients_of(net);
  step(tape, net, batch, ParameterGradients::defer);
  for (const auto& grad : gradients_of(net)) CHECK(grad.isZero());
  tape.add_parameter_gradients();
  CHECK(gradients_of(net) == expected);
  tape.add_parameter_gradients();  // nothing pending any more
  CHECK(gradients_of(net) == expected);
}

TEST_CASE("a reused tape gives bit-identical gradients", "[tape]") {
  Random rng(3);
  Mlp<double> net({3, 16, 2, 2, Activation::gelu}, rng);
  const Matrix<double> batch = uniform_matrix(rng, 20, 3);
  Tape<double> tape;
  step(tape, net, batch);
  const std::vector<Matrix<double>> first = gradients_of(net);
  for (int repeat = 0; repeat < 5; ++repeat) step(tape, net, batch);
  CHECK(gradients_of(net) == first);  // exact equality on purpose

  Tape<double> fresh;
  step(fresh, net, batch);
  CHECK(gradients_of(net) == first);
}

TEST_CASE("10,000 steps leave the tape's high-water marks unchanged", "[tape]") {
  Random rng(5);
  Mlp<double> net({2, 32, 2, 2, Activation::tanh}, rng);
  const Matrix<double> batch = uniform_matrix(rng, 64, 2);
  Tape<double> tape;
  step(tape, net, batch);
  const std::size_t nodes = tape.size(), slots = tape.capacity(), bytes = tape.bytes();
  CHECK(nodes > 0);
  CHECK(bytes > 0);
  for (int i = 0; i < 10000; ++i) {
    step(tape, net, batch);
    if (tape.capacity() != slots || tape.bytes() != bytes) break;
  }
  CHECK(tape.size() == nodes);
  CHECK(tape.capacity() == slots);
  CHECK(tape.bytes() == bytes);
}

TEST_CASE("the tape works in float", "[tape]") {
  Random rng(7);
  Mlp<float> net({2, 8, 1, 2, Activation::silu}, rng);
  Tape<float> tape;
  const Matrix<float> batch = uniform_matrix(rng, 10, 2).cast<float>();
  const float loss = step(tape, net, batch);
  CHECK(std::isfinite(loss));
  // The float gradient agrees with the double one to float precision.
  Mlp<double> net_double({2, 8, 1, 2, Activation::silu}, rng);
  auto fp = net.parameters();
  auto dp = net_double.parameters();
  for (std::size_t i = 0; i < fp.size(); ++i) dp[i]->value = fp[i]->value.cast<double>();
  Tape<double> tape_double;
  step(tape_double, net_double, Matrix<double>(batch.cast<double>()));
  for (std::size_t i = 0; i < fp.size(); ++i)
    CHECK((fp[i]->grad.cast<double>() - dp[i]->grad).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("backward rejects a loss from another tape or a cleared one", "[tape]") {
  Tape<double> a, b;
  auto loss = sum(a.constant(Matrix<double>::Ones(2, 2)));
  CHECK_THROWS_AS(b.backward(loss), Error);
  a.clear();
  CHECK_THROWS_AS(a.backward(loss), Error);
}

TEST_CASE("the gradient checker fails a wrong gradient", "[tape]") {
  // sqrt's backward is right; pretend the loss is different between the two
  // evaluations by reading a counter, and check the checker notices.
  Parameter<double> p("p", Matrix<double>::Constant(1, 1, 2.0));
  int calls = 0;
  auto result = check_parameter_gradients(
      [&](Tape<double>& tape) {
        ++calls;
        auto x = tape.parameter(p);
        return calls == 1 ? sum(square(x)) : sum(scale(square(x), 3.0));  // tape sees 2x, FD sees 6x
      },
      {&p});
  CHECK_FALSE(result.passed);
  CHECK(result.max_error > 0.5);
  CHECK_THAT(result.worst, Catch::Contains("p[0]"));
}
