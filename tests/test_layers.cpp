// Conformance of every layer type (tests/layer_zoo.hpp), in double, at D = 2 and D = 5:
//   log-det = log|det J| of a finite-difference Jacobian (1e-7),
//   inverse ∘ forward = identity and forward ∘ inverse = identity (1e-10, also at D = 7),
//   taped passes equal plain ones, and gradients of the taped forward and
//   inverse with respect to parameters and to the input points match finite
//   differences. Conditional cases get a context c in every check, and their
//   gradients with respect to c are checked too. (Integration to one:
//   test_flow_stack; save/load: test_io.)
#include <catch2/catch.hpp>

#include <Eigen/LU>

#include <algorithm>
#include <iostream>
#include <map>

#include "layer_zoo.hpp"
#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::all_layer_cases;
using eigenflow::test::forward_given;
using eigenflow::test::inverse_given;
using eigenflow::test::uniform_matrix;

namespace {

/// log|det ∂f/∂x| at one point, from a central-difference Jacobian.
template <class F>
double finite_difference_log_det(const F& f, const Matrix<double>& row) {
  const Index d = row.cols();
  Matrix<double> jacobian(d, d);
  for (Index j = 0; j < d; ++j) {
    const double h = 1e-5 * std::max(1.0, std::abs(row(0, j)));
    Matrix<double> above = row, below = row;
    above(0, j) += h;
    below(0, j) -= h;
    jacobian.col(j) = ((f(above) - f(below)) / (2 * h)).transpose();
  }
  return std::log(std::abs(jacobian.determinant()));
}

/// Worst errors seen per layer type, printed once for the closing note.
struct Report {
  std::map<std::string, std::array<double, 3>> worst;  // log-det, inverse, gradient
  void add(const std::string& name, int column, double error) {
    auto& entry = worst[name];
    entry[static_cast<std::size_t>(column)] = std::max(entry[static_cast<std::size_t>(column)], error);
  }
  ~Report() {
    std::cout << "[report] worst errors per layer: log-det vs FD Jacobian | round trip | gradient vs FD\n";
    for (const auto& [name, e] : worst)
      std::cout << "[report]   " << name << ": " << e[0] << " | " << e[1] << " | " << e[2] << "\n";
  }
};
Report report;

}  // namespace

TEST_CASE("every layer's log-det equals log|det J| of its finite-difference Jacobian", "[layers]") {
  for (const auto& layer_case : all_layer_cases()) {
    for (Index dim : {2, 5}) {
      Random rng(100 + static_cast<std::uint64_t>(dim));
      const auto layer = layer_case.make(dim, rng);
      const Matrix<double> x = uniform_matrix(rng, 6, dim, -2, 2);
      const Matrix<double> c = uniform_matrix(rng, 6, layer_case.context_dim, -1.5, 1.5);
      const auto forward = forward_given(*layer, x, c);
      const auto inverse = inverse_given(*layer, x, c);
      for (Index i = 0; i < x.rows(); ++i) {
        const Matrix<double> row = x.row(i), row_c = eigenflow::detail::middle_rows(c, i, 1);
        const double fd_forward =
            finite_difference_log_det([&](const Matrix<double>& p) { return forward_given(*layer, p, row_c).points; }, row);
        const double fd_inverse =
            finite_difference_log_det([&](const Matrix<double>& p) { return inverse_given(*layer, p, row_c).points; }, row);
        INFO(layer_case.name << " D=" << dim << " row " << i);
        CHECK(std::abs(forward.log_det(i) - fd_forward) <= 1e-7);
        CHECK(std::abs(inverse.log_det(i) - fd_inverse) <= 1e-7);
        report.add(layer_case.name, 0, std::max(std::abs(forward.log_det(i) - fd_forward), std::abs(inverse.log_det(i) - fd_inverse)));
      }
    }
  }
}

TEST_CASE("every layer's inverse undoes its forward and the other way round", "[layers]") {
  for (const auto& layer_case : all_layer_cases()) {
    for (Index dim : {2, 5, 7}) {
      Random rng(200 + static_cast<std::uint64_t>(dim));
      const auto layer = layer_case.make(dim, rng);
      const Matrix<double> x = uniform_matrix(rng, 50, dim, -3, 3);
      const Matrix<double> c = uniform_matrix(rng, 50, layer_case.context_dim, -1.5, 1.5);
      const auto there = forward_given(*layer, x, c);
      const auto back = inverse_given(*layer, there.points, c);
      const auto z_back = forward_given(*layer, inverse_given(*layer, x, c).points, c);
      const double error = std::max({(back.points - x).cwiseAbs().maxCoeff(), (z_back.points - x).cwiseAbs().maxCoeff(),
                                     (there.log_det + back.log_det).cwiseAbs().maxCoeff()});
      INFO(layer_case.name << " D=" << dim);
      CHECK(error <= 1e-10);
      report.add(layer_case.name, 1, error);
    }
  }
}

TEST_CASE("taped forward and inverse compute the plain values", "[layers]") {
  for (const auto& layer_case : all_layer_cases()) {
    Random rng(300);
    auto layer = layer_case.make(3, rng);
    const Matrix<double> x = uniform_matrix(rng, 7, 3, -2, 2);
    const Matrix<double> c = uniform_matrix(rng, 7, layer_case.context_dim, -1.5, 1.5);
    Tape<double> tape;
    const auto taped = forward_given(tape, *layer, tape.constant(x), tape.constant(c));
    const auto plain = forward_given(*layer, x, c);
    const auto taped_inverse = inverse_given(tape, *layer, tape.constant(x), tape.constant(c));
    const auto plain_inverse = inverse_given(*layer, x, c);
    INFO(layer_case.name);
    CHECK((taped.points.value() - plain.points).cwiseAbs().maxCoeff() <= 1e-14);
    CHECK((taped.log_det.value() - Matrix<double>(plain.log_det)).cwiseAbs().maxCoeff() <= 1e-14);
    CHECK((taped_inverse.points.value() - plain_inverse.points).cwiseAbs().maxCoeff() <= 1e-14);
    CHECK((taped_inverse.log_det.value() - Matrix<double>(plain_inverse.log_det)).cwiseAbs().maxCoeff() <= 1e-14);
  }
}

TEST_CASE("gradients of mean log_prob match finite differences for every layer", "[layers]") {
  for (const auto& layer_case : all_layer_cases()) {
    for (Index dim : {2, 5}) {
      Random rng(400 + static_cast<std::uint64_t>(dim));
      FlowStack<double> flow(dim, layer_case.context_dim);
      flow.append(layer_case.make(dim, rng));
      const Matrix<double> x = uniform_matrix(rng, 9, dim, -2, 2);
      const Matrix<double> c = uniform_matrix(rng, 9, layer_case.context_dim, -1.5, 1.5);
      const auto parameters = flow.parameters();
      if (parameters.empty()) continue;  // permutation: nothing to train
      const auto result = check_parameter_gradients(
          [&](Tape<double>& tape) {
            return mean(c.cols() > 0 ? flow.log_prob(tape, tape.constant(x), tape.constant(c))
                                     : flow.log_prob(tape, tape.constant(x)));
          },
          parameters);
      INFO(layer_case.name << " D=" << dim << ": " << result.worst);
      CHECK(result.passed);
      report.add(layer_case.name, 2, result.max_error);
    }
  }
}

TEST_CASE("gradients through the taped inverse match finite differences", "[layers]") {
  // The inverse direction trains too (sampling-direction losses); planar and
  // radial get it through the recorded Newton step.
  for (const auto& layer_case : all_layer_cases()) {
    Random rng(500);
    auto layer = layer_case.make(3, rng);
    const auto parameters = layer->parameters();
    if (parameters.empty()) continue;
    const Matrix<double> z = uniform_matrix(rng, 8, 3, -2, 2);
    const Matrix<double> weights = uniform_matrix(rng, 8, 3);
    const Matrix<double> c = uniform_matrix(rng, 8, layer_case.context_dim, -1.5, 1.5);
    const auto result = check_parameter_gradients(
        [&](Tape<double>& tape) {
          const auto x = inverse_given(tape, *layer, tape.constant(z), tape.constant(c));
          return add(mean(mask_multiply(x.points, weights)), mean(x.log_det));
        },
        parameters);
    INFO(layer_case.name << ": " << result.worst);
    CHECK(result.passed);
    report.add(layer_case.name, 2, result.max_error);
  }
}

TEST_CASE("gradients with respect to the input points and the context match finite differences", "[layers]") {
  // d/dx of a loss on both outputs (points and log-det), forward and inverse:
  // what a layer deeper in a stack receives, and what reverse-KL training needs.
  for (const auto& layer_case : all_layer_cases()) {
    for (const bool inverse : {false, true}) {
      Random rng(550);
      auto layer = layer_case.make(4, rng);
      const Matrix<double> x = eigenflow::test::away_from_zero(rng, 6, 4, 0.1, 2.5);  // LeakyReLU has a kink at 0
      const Matrix<double> weights = uniform_matrix(rng, 6, 4);
      const Matrix<double> c = uniform_matrix(rng, 6, layer_case.context_dim, -1.5, 1.5);
      // inputs x and, for conditional layers, the context c: both checked
      const auto result = check_gradient(
          [&](Tape<double>& tape, const std::vector<Var<double>>& in) {
            const Var<double> context = in.size() > 1 ? in[1] : tape.constant(c);
            const auto out = inverse ? inverse_given(tape, *layer, in[0], context) : forward_given(tape, *layer, in[0], context);
            return add(mean(mask_multiply(out.points, weights)), mean(out.log_det));
          },
          c.cols() > 0 ? std::vector<Matrix<double>>{x, c} : std::vector<Matrix<double>>{x});
      INFO(layer_case.name << (inverse ? " inverse" : " forward") << ": " << result.worst);
      CHECK(result.passed);
      report.add(layer_case.name, 2, result.max_error);
    }
  }
}

TEST_CASE("planar and radial invert to 1e-10 near their extreme parameters", "[layers]") {
  for (double m : {-0.99, -0.999, 20.0}) {
    for (Index dim : {2, 5}) {
      Random rng(600 + static_cast<std::uint64_t>(dim));
      const Planar<double> planar = eigenflow::test::planar_with_m(dim, rng, m);
      REQUIRE((planar.u_hat() * planar.w().transpose())(0, 0) == Approx(m).epsilon(1e-9));
      Matrix<double> x = uniform_matrix(rng, 200, dim, -3, 3);
      // Points on the flat spot wᵀx + b = 0, where the forward map is least steep.
      for (Index i = 0; i < 20; ++i) {
        const double off = (x.row(i) * planar.w().transpose())(0, 0) + planar.b();
        x.row(i) -= off * planar.w() / planar.w().squaredNorm();
      }
      const double error = (planar.inverse(planar.forward(x).points).points - x).cwiseAbs().maxCoeff();
      INFO("planar m=" << m << " D=" << dim);
      CHECK(error <= 1e-10);
      report.add("planar (extreme m)", 1, error);
    }
  }
  for (double gap : {1e-2, 1e-4}) {  // β = −α + gap
    for (Index dim : {2, 5}) {
      Random rng(700 + static_cast<std::uint64_t>(dim));
      RowVector<double> z0 = RowVector<double>::Zero(dim);
      const Radial<double> radial(z0, 0.3, eigenflow::test::inverse_softplus(gap));
      const Matrix<double> x = uniform_matrix(rng, 200, dim, -3, 3);
      const double error = (radial.inverse(radial.forward(x).points).points - x).cwiseAbs().maxCoeff();
      INFO("radial gap=" << gap << " D=" << dim);
      CHECK(error <= 1e-10);
      report.add("radial (beta near -alpha)", 1, error);
    }
  }
}

TEST_CASE("layers work in float with float accuracy", "[layers]") {
  Random rng(800);
  const Matrix<float> x = uniform_matrix(rng, 20, 4, -2, 2).cast<float>();
  FlowStack<float> flow(4);
  flow.append(LeakyReLU<float>(4, 0.5f));
  flow.append(AffineCoupling<float>::make(alternating_mask<float>(4, 0), {16, 2, Activation::relu}, Conditioner::separate,
                                          ScaleActivation::tanh, rng));
  flow.append(Planar<float>::random(4, rng));
  flow.append(Radial<float>::random(4, rng));
  const auto there = flow.forward(x);
  const auto back = flow.inverse(there.points);
  CHECK((back.points - x).cwiseAbs().maxCoeff() <= 1e-5f);
  CHECK((there.log_det + back.log_det).cwiseAbs().maxCoeff() <= 1e-5f);
  Tape<float> tape;
  const auto loss = flow.negative_log_likelihood(tape, tape.constant(x));
  tape.backward(loss);
  for (auto* p : flow.parameters()) CHECK(p->grad.allFinite());
}

TEST_CASE("invalid layer construction throws with a message", "[layers]") {
  Random rng(900);
  CHECK_THROWS_WITH(LeakyReLU<double>(0), Catch::Contains("dimension"));
  CHECK_THROWS_WITH(LeakyReLU<double>(2, -0.1), Catch::Contains("negative_slope"));
  CHECK_THROWS_AS(LeakyReLU<double>(2, 0.0), ValueError);

  // a mask of the wrong size for its networks
  Mlp<double> s_net({2, 8, 1, 2, Activation::relu}, rng), t_net({2, 8, 1, 2, Activation::relu}, rng);
  RowVector<double> mask3(3);
  mask3 << 1, 0, 1;
  CHECK_THROWS_WITH(AffineCoupling<double>(mask3, s_net, t_net, ScaleActivation::tanh), Catch::Contains("s_net"));
  CHECK_THROWS_AS(AdditiveCoupling<double>(mask3, t_net), ShapeError);
  // all ones, all zeros, not 0/1
  CHECK_THROWS_WITH(AffineCoupling<double>(RowVector<double>::Ones(2), s_net, t_net, ScaleActivation::tanh),
                    Catch::Contains("both 0s and 1s"));
  CHECK_THROWS_WITH(AdditiveCoupling<double>(RowVector<double>::Zero(2), t_net), Catch::Contains("both 0s and 1s"));
  RowVector<double> half(2);
  half << 0.5, 1;
  CHECK_THROWS_WITH(AdditiveCoupling<double>(half, t_net), Catch::Contains("0 or 1"));
  CHECK_THROWS_AS(alternating_mask(1, 0), ValueError);

  // planar: zero w, mismatched sizes, D = 0
  CHECK_THROWS_WITH(Planar<double>(RowVector<double>::Ones(2), RowVector<double>::Zero(2), 0.0), Catch::Contains("norm"));
  CHECK_THROWS_AS(Planar<double>(RowVector<double>::Ones(2), RowVector<double>::Ones(3), 0.0), ShapeError);
  CHECK_THROWS_AS(Planar<double>(RowVector<double>(0), RowVector<double>(0), 0.0), ValueError);
  CHECK_THROWS_AS(Radial<double>(RowVector<double>(0), 0.0, 0.0), ValueError);
  CHECK_THROWS_AS(Radial<double>(RowVector<double>::Zero(2), std::nan(""), 0.0), ValueError);

  // permutation: repeated or out-of-range entries
  CHECK_THROWS_AS(Permutation<double>({0, 0}), ValueError);
  CHECK_THROWS_AS(Permutation<double>({0, 2}), ValueError);
  CHECK_THROWS_AS(FlowStack<double>(0), ValueError);

  // points of the wrong dimension
  const LeakyReLU<double> layer(3);
  CHECK_THROWS_WITH(layer.forward(Matrix<double>::Zero(4, 2)), Catch::Contains("leaky_relu.forward") && Catch::Contains("4x2"));
}
