// Every op's gradient against central finite differences, in double, on
// random shapes including 1x1 and non-square ones (error <= 1e-6).
//
// Each check differentiates L = Σ op(inputs) ⊙ R for a fixed random R, so
// every output entry contributes with its own weight.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::away_from_zero;
using eigenflow::test::uniform_matrix;

namespace {

using OpFn = std::function<Var<double>(const std::vector<Var<double>>&)>;

const std::vector<std::pair<Index, Index>> kShapes = {{1, 1}, {3, 5}, {5, 3}, {4, 1}, {1, 4}, {7, 7}};

/// Checks op's gradient at the given inputs; the weights R match the output shape.
void check_op(const std::string& name, const OpFn& op, const std::vector<Matrix<double>>& inputs) {
  Random rng(99);
  Tape<double> probe;
  std::vector<Var<double>> probe_vars;
  for (const auto& input : inputs) probe_vars.push_back(probe.constant(input));
  const Matrix<double> out = op(probe_vars).value();
  const Matrix<double> weights = uniform_matrix(rng, out.rows(), out.cols(), 0.5, 1.5);

  const auto result = check_gradient(
      [&](Tape<double>&, const std::vector<Var<double>>& vars) {
        return sum(mask_multiply(op(vars), weights));
      },
      inputs);
  INFO(name << " " << inputs.front().rows() << "x" << inputs.front().cols() << ": max error "
            << result.max_error << " at " << result.worst);
  CHECK(result.passed);
  CHECK(result.max_error <= 1e-6);
}

void check_unary(const std::string& name, const OpFn& op, double low, double high, bool away_from_kink = false) {
  Random rng(7);
  for (auto [rows, cols] : kShapes) {
    const Matrix<double> x = away_from_kink ? away_from_zero(rng, rows, cols, low, high)
                                            : uniform_matrix(rng, rows, cols, low, high);
    check_op(name, op, {x});
  }
}

}  // namespace

TEST_CASE("elementwise unary ops match finite differences", "[ops]") {
  auto one = [](auto f) { return [f](const std::vector<Var<double>>& v) { return f(v[0]); }; };
  check_unary("exp", one([](auto x) { return exp(x); }), -2, 2);
  check_unary("log", one([](auto x) { return log(x); }), 0.2, 3);
  check_unary("log1p", one([](auto x) { return log1p(x); }), -0.5, 3);
  check_unary("sqrt", one([](auto x) { return sqrt(x); }), 0.2, 3);
  check_unary("square", one([](auto x) { return square(x); }), -2, 2);
  check_unary("abs", one([](auto x) { return abs(x); }), 0.1, 2, true);
  check_unary("tanh", one([](auto x) { return tanh(x); }), -3, 3);
  check_unary("sigmoid", one([](auto x) { return sigmoid(x); }), -5, 5);
  check_unary("softplus", one([](auto x) { return softplus(x); }), -5, 5);
  check_unary("relu", one([](auto x) { return relu(x); }), 0.1, 2, true);
  check_unary("leaky_relu", one([](auto x) { return leaky_relu(x, 0.2); }), 0.1, 2, true);
  check_unary("elu", one([](auto x) { return elu(x); }), 0.1, 2, true);
  check_unary("silu", one([](auto x) { return silu(x); }), -4, 4);
  check_unary("gelu", one([](auto x) { return gelu(x); }), -4, 4);
  check_unary("gelu_tanh", one([](auto x) { return gelu_tanh(x); }), -4, 4);
  check_unary("scale", one([](auto x) { return scale(x, -1.7); }), -2, 2);
  check_unary("add_scalar", one([](auto x) { return add_scalar(x, 0.3); }), -2, 2);
  check_unary("affine", one([](auto x) { return affine(x, 2.5, -1.0); }), -2, 2);
  check_unary("negate", one([](auto x) { return -x; }), -2, 2);
  check_unary("scalar minus", one([](auto x) { return 1.0 - x; }), -2, 2);
  check_unary("transpose", one([](auto x) { return transpose(x); }), -2, 2);
}

TEST_CASE("binary ops with and without broadcasting match finite differences", "[ops]") {
  Random rng(11);
  const std::vector<std::pair<std::string, OpFn>> ops = {
      {"add", [](const auto& v) { return v[0] + v[1]; }},
      {"sub", [](const auto& v) { return v[0] - v[1]; }},
      {"mul", [](const auto& v) { return v[0] * v[1]; }},
      {"div", [](const auto& v) { return v[0] / v[1]; }},
  };
  for (auto [rows, cols] : kShapes) {
    // right operand: same shape, a row (1 x cols), a column (rows x 1), a scalar (1 x 1)
    const std::vector<std::pair<Index, Index>> right = {{rows, cols}, {1, cols}, {rows, 1}, {1, 1}};
    for (const auto& [name, op] : ops) {
      for (auto [r, c] : right) {
        const Matrix<double> a = uniform_matrix(rng, rows, cols, -2, 2);
        const Matrix<double> b = away_from_zero(rng, r, c, 0.5, 2);  // keeps div well-conditioned
        check_op(name + " (right broadcast)", op, {a, b});
        check_op(name + " (left broadcast)", op, {b, a + Matrix<double>::Constant(rows, cols, 3.0)});
      }
    }
  }
}

TEST_CASE("linear algebra ops match finite differences", "[ops]") {
  Random rng(13);
  for (auto [rows, cols] : kShapes) {
    const Index inner = rows + 1;
    check_op("matmul", [](const auto& v) { return matmul(v[0], v[1]); },
             {uniform_matrix(rng, rows, inner), uniform_matrix(rng, inner, cols)});
    check_op("linear", [](const auto& v) { return linear(v[0], v[1], v[2]); },
             {uniform_matrix(rng, rows, inner), uniform_matrix(rng, cols, inner), uniform_matrix(rng, 1, cols)});
    check_op("linear_relu", [](const auto& v) { return linear_relu(v[0], v[1], v[2]); },
             {uniform_matrix(rng, rows, inner), uniform_matrix(rng, cols, inner), uniform_matrix(rng, 1, cols)});
    check_op("row_dot", [](const auto& v) { return row_dot(v[0], v[1]); },
             {uniform_matrix(rng, rows, cols), uniform_matrix(rng, rows, cols)});
  }
}

TEST_CASE("reductions match finite differences", "[ops]") {
  auto one = [](auto f) { return [f](const std::vector<Var<double>>& v) { return f(v[0]); }; };
  check_unary("sum", one([](auto x) { return sum(x); }), -2, 2);
  check_unary("mean", one([](auto x) { return mean(x); }), -2, 2);
  check_unary("row_sums", one([](auto x) { return row_sums(x); }), -2, 2);
  check_unary("row_means", one([](auto x) { return row_means(x); }), -2, 2);
  check_unary("column_sums", one([](auto x) { return column_sums(x); }), -2, 2);
  check_unary("column_means", one([](auto x) { return column_means(x); }), -2, 2);
}

TEST_CASE("structural ops match finite differences", "[ops]") {
  Random rng(17);
  for (auto [rows, cols] : kShapes) {
    const Matrix<double> x = uniform_matrix(rng, rows, cols);
    const Index first = cols / 2, count = cols - cols / 2;
    check_op("columns", [=](const auto& v) { return columns(v[0], first, count); }, {x});
    check_op("concat_columns", [](const auto& v) { return concat_columns(v[0], v[1]); },
             {x, uniform_matrix(rng, rows, 2)});
    Matrix<double> row_mask(1, cols);
    for (Index j = 0; j < cols; ++j) row_mask(0, j) = j % 2;
    check_op("mask_multiply (row mask)", [=](const auto& v) { return mask_multiply(v[0], row_mask); }, {x});
    const Matrix<double> full_mask = uniform_matrix(rng, rows, cols);
    check_op("mask_multiply (full mask)", [=](const auto& v) { return mask_multiply(v[0], full_mask); }, {x});
    std::vector<Index> reversed;
    for (Index j = cols; j-- > 0;) reversed.push_back(j);
    reversed.push_back(0);  // a repeated column: its gradient must add up
    check_op("gather_columns", [=](const auto& v) { return gather_columns(v[0], reversed); }, {x});
  }
}

TEST_CASE("a node used several times accumulates its adjoint", "[ops]") {
  Random rng(19);
  check_op("x*x + exp(x)*x", [](const auto& v) { return v[0] * v[0] + exp(v[0]) * v[0]; },
           {uniform_matrix(rng, 3, 4)});
}

TEST_CASE("plain ops compute the same values as taped ops", "[ops]") {
  Random rng(23);
  const Matrix<double> a = uniform_matrix(rng, 4, 3, 0.2, 2), b = uniform_matrix(rng, 1, 3, 0.5, 2);
  Tape<double> tape;
  auto va = tape.constant(a), vb = tape.constant(b);
  CHECK(value_of(div(va, vb)) == div(a, b));
  CHECK(value_of(gelu(va)) == gelu(a));
  CHECK(value_of(softplus(log(va))) == softplus(log(a)));
  CHECK(value_of(row_sums(va)) == row_sums(a));
  const Matrix<double> weight = uniform_matrix(rng, 2, 3), bias = uniform_matrix(rng, 1, 2);
  CHECK(value_of(linear(va, tape.constant(weight), tape.constant(bias))) == linear(a, weight, bias));
}

TEST_CASE("elementwise functions are numerically stable at the extremes", "[ops]") {
  Matrix<double> x(1, 4);
  x << -800.0, -40.0, 40.0, 800.0;
  const Matrix<double> sp = softplus(x);
  CHECK(sp.allFinite());
  CHECK(sp(0, 3) == 800.0);
  CHECK(sp(0, 0) == Approx(0.0).margin(1e-300));
  CHECK(sp(0, 1) == Approx(std::exp(-40.0)).epsilon(1e-12));
  const Matrix<double> sg = sigmoid(x);
  CHECK(sg.allFinite());
  CHECK(sg(0, 3) == 1.0);
  CHECK(sg(0, 1) == Approx(std::exp(-40.0)).epsilon(1e-12));
}

TEST_CASE("shape mismatches throw with both shapes in the message", "[ops]") {
  Tape<double> tape;
  auto a = tape.constant(Matrix<double>::Zero(3, 4));
  auto b = tape.constant(Matrix<double>::Zero(2, 5));
  CHECK_THROWS_WITH(add(a, b), Catch::Contains("3x4") && Catch::Contains("2x5"));
  CHECK_THROWS_AS(matmul(a, b), ShapeError);
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("matmul") && Catch::Contains("3x4") && Catch::Contains("2x5"));
  CHECK_THROWS_WITH(mul(Matrix<double>(Matrix<double>::Zero(3, 4)), Matrix<double>(Matrix<double>::Zero(3, 2))),
                    Catch::Contains("3x4") && Catch::Contains("3x2"));
  CHECK_THROWS_AS(columns(a, 2, 3), ShapeError);
  CHECK_THROWS_AS(tape.backward(a), ShapeError);  // loss must be 1x1
}

namespace {
/// Worst relative gaps (value, derivative) between F's vectorised forms on the active
/// path (fn::evaluate, fn::accumulate_derivative) and its scalar reference on [lo, hi].
template <class F, class S>
std::pair<double, double> vectorised_gap(double lo = -12, double hi = 12) {
  const Index n = 4801;
  Matrix<S> x(n, 1);
  for (Index i = 0; i < n; ++i) x(i) = static_cast<S>(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1));
  Matrix<S> y, dx = Matrix<S>::Constant(n, 1, S(0.5));
  const Matrix<S> dy = Matrix<S>::Ones(n, 1);
  fn::evaluate<F>(x, y);
  fn::accumulate_derivative<F>(x, y, dy, dx);  // dx = 0.5 + F'(x): added to, not overwritten
  dx.array() -= S(0.5);
  double value_gap = 0, derivative_gap = 0;
  for (Index i = 0; i < n; ++i) {
    const double reference = F::value(x(i));
    const double reference_derivative = F::derivative(x(i), static_cast<S>(reference));
    value_gap = std::max(value_gap, std::abs(y(i) - reference) / std::max(1.0, std::abs(reference)));
    derivative_gap = std::max(derivative_gap, std::abs(dx(i) - reference_derivative) / std::max(1.0, std::abs(reference_derivative)));
  }
  return {value_gap, derivative_gap};
}

/// Worst gap of exp on the active path from std::exp, in units of the scalar's epsilon relative to the result.
template <class S>
double exp_relative_error(S lo, S hi) {
  const Index n = 100001;
  Matrix<S> x(n, 1), y;
  for (Index i = 0; i < n; ++i) x(i) = lo + (hi - lo) * static_cast<S>(i) / static_cast<S>(n - 1);
  fn::evaluate<fn::Exp>(x, y);
  double worst = 0;
  for (Index i = 0; i < n; ++i) {
    const long double reference = std::exp(static_cast<long double>(x(i)));
    worst = std::max(worst, static_cast<double>(std::abs(y(i) - reference) / reference));
  }
  return worst / static_cast<double>(std::numeric_limits<S>::epsilon());
}
}  // namespace

TEST_CASE("vectorised elementwise functions agree with their scalar references on every path", "[ops]") {
  // float: Eigen's erf and our kernels' are rational approximations, tanh and exp polynomial ones (a few ulp)
  for (const Isa isa : test::supported_isas()) {
    const test::ScopedIsa path(isa);
    auto check = [&](const char* name, std::pair<double, double> gap, double tolerance) {
      INFO(name << " on " << to_string(isa) << ": value " << gap.first << ", derivative " << gap.second);
      CHECK(gap.first < tolerance);
      CHECK(gap.second < tolerance);
    };
    check("exp float", vectorised_gap<fn::Exp, float>(), 1e-6);
    check("tanh float", vectorised_gap<fn::Tanh, float>(), 1e-6);
    check("gelu float", vectorised_gap<fn::Gelu, float>(), 1e-6);
    check("exp double", vectorised_gap<fn::Exp, double>(), 1e-14);
    check("tanh double", vectorised_gap<fn::Tanh, double>(), 1e-14);
    check("gelu double", vectorised_gap<fn::Gelu, double>(), 1e-14);
    // exp over its whole normal range, relative to the result: within 2 ulp
    INFO("exp on " << to_string(isa));
    CHECK(exp_relative_error<float>(-87.0f, 88.5f) < 2.0);
    CHECK(exp_relative_error<double>(-707.0, 709.7) < 2.0);
  }
}

TEST_CASE("the vectorised kernels keep NaN, the infinities and the ends of the range", "[ops]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Matrix<float> x(1, 9);
  x << nan, inf, -inf, 88.8f, -104.0f, 0.0f, 20.0f, -20.0f, -90.0f;  // 9 values: a whole vector and a tail on AVX2
  for (const Isa isa : test::supported_isas()) {
    const test::ScopedIsa path(isa);
    INFO("path " << to_string(isa));
    Matrix<float> e, t;
    fn::evaluate<fn::Exp>(x, e);
    fn::evaluate<fn::Tanh>(x, t);
    CHECK(std::isnan(e(0)));
    CHECK(std::isnan(t(0)));
    CHECK(e(1) == inf);
    CHECK(e(3) == inf);  // above log(FLT_MAX)
    if (isa == Isa::portable) {  // Eigen's packet exp stops at the smallest normal float, not at 0
      CHECK(e(2) <= std::numeric_limits<float>::min());
      CHECK(e(4) <= std::numeric_limits<float>::min());
    } else {
      CHECK(e(2) == 0.0f);
      CHECK(e(4) == 0.0f);  // below the smallest subnormal
    }
    CHECK(e(5) == 1.0f);
    CHECK(std::abs(e(8) - std::exp(-90.0f)) <= 2 * std::numeric_limits<float>::denorm_min());  // subnormal
    CHECK(t(1) == 1.0f);
    CHECK(t(2) == -1.0f);
    CHECK(t(6) == 1.0f);
    CHECK(t(7) == -1.0f);
    Matrix<double> xd(1, 3), ed;
    xd << std::numeric_limits<double>::quiet_NaN(), 710.0, -746.0;
    fn::evaluate<fn::Exp>(xd, ed);
    CHECK(std::isnan(ed(0)));
    CHECK(ed(1) == std::numeric_limits<double>::infinity());
    CHECK(ed(2) == 0.0);
  }
}

TEST_CASE("the fused linear_relu computes relu(linear) exactly, on tape and off", "[ops]") {
  Random rng(17);
  const Matrix<double> x = uniform_matrix(rng, 40, 6), w = uniform_matrix(rng, 9, 6), b = uniform_matrix(rng, 1, 9);
  const Matrix<double> unfused = relu(linear(x, w, b));
  CHECK(linear_relu(x, w, b) == unfused);
  CHECK((unfused.array() == 0).count() > 40);  // the test covers both sides of the kink
  Tape<double> tape;
  CHECK(linear_relu(tape.constant(x), tape.constant(w), tape.constant(b)).value() == unfused);
  CHECK_THROWS_AS(linear_relu(x, uniform_matrix(rng, 9, 5), b), ShapeError);
}

namespace {
/// Back-propagation through relu(x·W1ᵀ+b1) → relu(·W2ᵀ+b2) → ·W3ᵀ+b3 with L = Σ y ⊙ R, by
/// hand in plain Eigen products (not eigenflow's), against the tape. The shapes are a
/// training step's: a 2-wide input and output around a 128-wide product, so the skinny
/// passes and (in AVX2/AVX-512 builds) the register-blocked kernel and its epilogue run.
template <class S>
void check_relu_network_against_hand_backprop(S tolerance) {
  Random rng(23);
  const Index rows = 700, width = 128;
  const auto random = [&](Index r, Index c) { return Matrix<S>(uniform_matrix(rng, r, c).cast<S>()); };
  const Matrix<S> x = random(rows, 2), w1 = random(width, 2), b1 = random(1, width), w2 = random(width, width),
                  b2 = random(1, width), w3 = random(2, width), b3 = random(1, 2), r = random(rows, 2);
  Tape<S> tape;
  const Var<S> vx = tape.constant(x), vw1 = tape.constant(w1), vb1 = tape.constant(b1), vw2 = tape.constant(w2),
               vb2 = tape.constant(b2), vw3 = tape.constant(w3), vb3 = tape.constant(b3);
  const Var<S> h1 = linear_relu(vx, vw1, vb1), h2 = linear_relu(h1, vw2, vb2), y = linear(h2, vw3, vb3);
  tape.backward(sum(mask_multiply(y, r)));

  // The forward against Eigen's products too (ReLU's kink is taken from the tape's values below).
  const Matrix<S> z1 = (x * w1.transpose()).rowwise() + b1.row(0);
  const Matrix<S> z2 = (h1.value() * w2.transpose()).rowwise() + b2.row(0);
  const auto relative = [](const Matrix<S>& got, const Matrix<S>& want) {
    return static_cast<double>((got - want).cwiseAbs().maxCoeff() / (S(1) + want.cwiseAbs().maxCoeff()));
  };
  CHECK(relative(h1.value(), z1.cwiseMax(S(0))) <= tolerance);
  CHECK(relative(h2.value(), z2.cwiseMax(S(0))) <= tolerance);
  CHECK(relative(y.value(), Matrix<S>((h2.value() * w3.transpose()).rowwise() + b3.row(0))) <= tolerance);

  const Matrix<S> dz2 = (r * w3).cwiseProduct((h2.value().array() > S(0)).matrix().template cast<S>());
  const Matrix<S> dz1 = (dz2 * w2).cwiseProduct((h1.value().array() > S(0)).matrix().template cast<S>());
  CHECK(relative(vw3.adjoint(), r.transpose() * h2.value()) <= tolerance);
  CHECK(relative(vb3.adjoint(), r.colwise().sum()) <= tolerance);
  CHECK(relative(vw2.adjoint(), dz2.transpose() * h1.value()) <= tolerance);
  CHECK(relative(vb2.adjoint(), dz2.colwise().sum()) <= tolerance);
  CHECK(relative(vw1.adjoint(), dz1.transpose() * x) <= tolerance);
  CHECK(relative(vb1.adjoint(), dz1.colwise().sum()) <= tolerance);
  CHECK(relative(vx.adjoint(), dz1 * w1) <= tolerance);
  CHECK((h2.value().array() == S(0)).count() > rows * width / 10);  // both sides of the kink are covered
}
}  // namespace

TEST_CASE("a ReLU network at training-step size back-propagates as hand-written Eigen does", "[ops]") {
  // Sums of up to 700 terms of size ~1 in a different order: seen ≤ 1e-15 in double, ≤ 5e-7 in float.
  check_relu_network_against_hand_backprop<double>(1e-12);
  check_relu_network_against_hand_backprop<float>(1e-5);
}
