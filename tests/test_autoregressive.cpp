// MADE, masked autoregressive layers (MAF, NSF-AR, IAF) and the
// rational-quadratic spline: the properties the shared conformance loop
// (test_layers.cpp) does not see — masks from degrees, the autoregressive
// structure of the Jacobian, spline knots, tails and extreme parameters.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include <algorithm>
#include <vector>

#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::uniform_matrix;

namespace {

/// ∂out(·, o)/∂x(·, j) by central differences at one row: D_out x D_in.
template <class F>
Matrix<double> finite_difference_jacobian(const F& f, const Matrix<double>& row, double h = 1e-6) {
  const Index d = row.cols();
  const Index outputs = f(row).cols();
  Matrix<double> jacobian(outputs, d);
  for (Index j = 0; j < d; ++j) {
    Matrix<double> above = row, below = row;
    above(0, j) += h;
    below(0, j) -= h;
    jacobian.col(j) = ((f(above) - f(below)) / (2 * h)).transpose();
  }
  return jacobian;
}

Matrix<double> made_outputs(const Made<double>& made, const Matrix<double>& x) {
  PlainContext<double> context;
  return made.apply(context, x);
}

}  // namespace

TEST_CASE("input degrees follow the requested order", "[made]") {
  Random rng(1);
  CHECK(input_degrees(4, InputOrder::natural, rng) == std::vector<Index>{1, 2, 3, 4});
  CHECK(input_degrees(4, InputOrder::reverse, rng) == std::vector<Index>{4, 3, 2, 1});
  std::vector<Index> shuffled = input_degrees(9, InputOrder::random, rng);
  CHECK(shuffled != input_degrees(9, InputOrder::natural, rng));  // 1 chance in 9! of a false alarm, fixed seed
  std::sort(shuffled.begin(), shuffled.end());
  CHECK(shuffled == input_degrees(9, InputOrder::natural, rng));
  Random a(5), b(5);
  CHECK(input_degrees(9, InputOrder::random, a) == input_degrees(9, InputOrder::random, b));
}

TEST_CASE("MADE masks follow the degree rules of Germain et al. (eqs. 12-13)", "[made]") {
  Random rng(2);
  const std::vector<Index> degrees{3, 1, 4, 2};
  const Made<double> made(degrees, 2, 0, {7, 2, Activation::relu}, HiddenDegrees::random, rng);
  const auto& masks = made.net().masks();
  REQUIRE(masks.size() == 3);
  const auto& hidden = made.hidden_degrees();
  for (const auto& layer : hidden)
    for (Index degree : layer) CHECK((degree >= 1 && degree <= 3));
  for (Index k = 0; k < 7; ++k)
    for (Index j = 0; j < 4; ++j) CHECK(masks[0](k, j) == (hidden[0][static_cast<std::size_t>(k)] >= degrees[static_cast<std::size_t>(j)] ? 1.0 : 0.0));
  for (Index k = 0; k < 7; ++k)
    for (Index j = 0; j < 7; ++j) CHECK(masks[1](k, j) == (hidden[1][static_cast<std::size_t>(k)] >= hidden[0][static_cast<std::size_t>(j)] ? 1.0 : 0.0));
  REQUIRE(masks[2].rows() == 8);  // parameter-major: row p·D + i has the degree of input i
  for (Index o = 0; o < 8; ++o)
    for (Index k = 0; k < 7; ++k) CHECK(masks[2](o, k) == (degrees[static_cast<std::size_t>(o % 4)] > hidden[1][static_cast<std::size_t>(k)] ? 1.0 : 0.0));
  // cyclic hidden degrees: 1, 2, …, D−1, 1, 2, …
  const Made<double> cyclic(degrees, 1, 0, {5, 1, Activation::relu}, HiddenDegrees::cyclic, rng);
  CHECK(cyclic.hidden_degrees()[0] == std::vector<Index>{1, 2, 3, 1, 2});
}

TEST_CASE("a MADE output depends exactly on the inputs before it in the order", "[made]") {
  // Masked weights are exact zeros, so moving an input the output must not
  // see leaves it bit-identical; every allowed input has a visible effect.
  const InputOrder order = GENERATE(InputOrder::natural, InputOrder::reverse, InputOrder::random);
  const HiddenDegrees hidden = GENERATE(HiddenDegrees::cyclic, HiddenDegrees::random);
  const Index dim = 7, outputs_per_dim = 3;
  Random rng(3);
  const Made<double> made(input_degrees(dim, order, rng), outputs_per_dim, 0, {64, 2, Activation::tanh}, hidden, rng);
  const Matrix<double> x = uniform_matrix(rng, 1, dim, -1, 1);
  const Matrix<double> at_x = made_outputs(made, x);
  const auto& degree = made.degrees();
  for (Index j = 0; j < dim; ++j) {
    Matrix<double> moved = x;
    moved(0, j) += 0.5;
    const Matrix<double> at_moved = made_outputs(made, moved);
    for (Index o = 0; o < dim * outputs_per_dim; ++o) {
      const Index i = o % dim;
      INFO("output " << o << " (input " << i << ", degree " << degree[static_cast<std::size_t>(i)] << "), moved input " << j
                     << " (degree " << degree[static_cast<std::size_t>(j)] << ")");
      if (degree[static_cast<std::size_t>(j)] >= degree[static_cast<std::size_t>(i)])
        CHECK(at_moved(0, o) == at_x(0, o));
      else
        CHECK(at_moved(0, o) != at_x(0, o));
    }
  }
}

TEST_CASE("MADE context inputs reach every output, the taped gradient included", "[made]") {
  Random rng(4);
  const Made<double> made(input_degrees(3, InputOrder::natural, rng), 2, 2, {16, 1, Activation::tanh}, HiddenDegrees::cyclic, rng);
  const Matrix<double> x = uniform_matrix(rng, 5, 3), c = uniform_matrix(rng, 5, 2);
  PlainContext<double> plain;
  const Matrix<double> out = made.apply(plain, x, c);
  Matrix<double> c_moved = c;
  c_moved.col(1).array() += 0.3;
  CHECK(((made.apply(plain, x, c_moved) - out).array() != 0).all());
  CHECK_THROWS_WITH(made.apply(plain, x), Catch::Contains("context"));
  CHECK_THROWS_AS(made.apply(plain, x, Matrix<double>(uniform_matrix(rng, 5, 3))), ShapeError);
  const Matrix<double> weights = uniform_matrix(rng, 5, 6);
  const auto result = check_gradient(
      [&](Tape<double>& tape, const std::vector<Var<double>>& in) {
        TapeContext<double> taped{tape};
        return mean(mask_multiply(made.apply(taped, in[0], in[1]), weights));
      },
      {x, c});
  INFO(result.worst);
  CHECK(result.passed);
}

TEST_CASE("MADE construction rejects impossible degrees and shapes", "[made]") {
  Random rng(5);
  const ConditionerShape shape{8, 1, Activation::relu};
  CHECK_THROWS_WITH(Made<double>({1, 1}, 2, 0, shape, HiddenDegrees::cyclic, rng), Catch::Contains("exactly once"));
  CHECK_THROWS_WITH(Made<double>({1, 3}, 2, 0, shape, HiddenDegrees::cyclic, rng), Catch::Contains("exactly once"));
  CHECK_THROWS_WITH(Made<double>({1}, 2, 0, shape, HiddenDegrees::cyclic, rng), Catch::Contains("dimension >= 2"));
  CHECK_THROWS_AS(Made<double>({1, 2}, 0, 0, shape, HiddenDegrees::cyclic, rng), ValueError);
  CHECK_THROWS_AS(Made<double>({1, 2}, 2, 0, {8, 0, Activation::relu}, HiddenDegrees::cyclic, rng), ValueError);
}

TEST_CASE("an autoregressive layer has a triangular Jacobian in its order", "[autoregressive]") {
  // ∂z_i/∂x_j = 0 whenever x_j comes after x_i in the order, for MAF, NSF-AR
  // and IAF (whose forward is the D-pass inverse of a MAF).
  Random rng(6);
  const Index dim = 6;
  const auto maf = MaskedAutoregressive<double>::make(dim, Transformer::affine(), {32, 2, Activation::tanh}, InputOrder::random, rng);
  const auto nsf = MaskedAutoregressive<double>::make(dim, Transformer::rational_quadratic({6, 3.0}), {32, 2, Activation::tanh},
                                                      InputOrder::reverse, rng);
  const Inverted<MaskedAutoregressive<double>> iaf(
      MaskedAutoregressive<double>::make(dim, Transformer::affine(), {32, 2, Activation::tanh}, InputOrder::random, rng));
  const std::vector<std::pair<const Layer<double>*, const std::vector<Index>*>> layers{
      {&maf, &maf.made().degrees()}, {&nsf, &nsf.made().degrees()}, {&iaf, &iaf.inner().made().degrees()}};
  for (const auto& [layer, degrees] : layers) {
    const Matrix<double> x = uniform_matrix(rng, 1, dim, -2, 2);
    const Matrix<double> jacobian =
        finite_difference_jacobian([&, map = layer](const Matrix<double>& p) { return map->forward(p).points; }, x);  // (C++17 cannot capture a structured binding)
    for (Index i = 0; i < dim; ++i)
      for (Index j = 0; j < dim; ++j) {
        INFO(layer->type() << ": dz_" << i << "/dx_" << j);
        const Index di = (*degrees)[static_cast<std::size_t>(i)], dj = (*degrees)[static_cast<std::size_t>(j)];
        if (dj > di) CHECK(jacobian(i, j) == 0.0);
        if (dj == di) CHECK(jacobian(i, j) > 0.0);  // each coordinate's transformer is increasing
      }
    // the lower part is really used: some z_i depends on an earlier x_j
    double coupling = 0;
    for (Index i = 0; i < dim; ++i)
      for (Index j = 0; j < dim; ++j)
        if ((*degrees)[static_cast<std::size_t>(j)] < (*degrees)[static_cast<std::size_t>(i)]) coupling = std::max(coupling, std::abs(jacobian(i, j)));
    CHECK(coupling > 1e-3);
  }
}

TEST_CASE("a zero-initialised autoregressive or spline layer is the identity", "[autoregressive]") {
  Random rng(7);
  const Matrix<double> x = uniform_matrix(rng, 20, 4, -6, 6);  // inside the spline interval and in its tails
  for (const Transformer& transformer : {Transformer::affine(), Transformer::rational_quadratic({8, 4.0})}) {
    const auto layer = MaskedAutoregressive<double>::make(4, transformer, {16, 2, Activation::relu}, InputOrder::natural, rng, true);
    const auto out = layer.forward(x);
    CHECK((out.points - x).cwiseAbs().maxCoeff() <= 1e-14);
    CHECK(out.log_det.cwiseAbs().maxCoeff() <= 1e-14);
  }
  const auto coupling = SplineCoupling<double>::make(alternating_mask(4, 0), {16, 2, Activation::relu}, {8, 4.0}, rng, true);
  CHECK((coupling.forward(x).points - x).cwiseAbs().maxCoeff() <= 1e-14);
}

TEST_CASE("MAF's log-scale is bounded: a single layer scales by at most e^3", "[autoregressive]") {
  Random rng(8);
  auto layer = MaskedAutoregressive<double>::make(3, Transformer::affine(), {8, 1, Activation::relu}, InputOrder::natural, rng);
  for (auto* p : layer.parameters()) p->value *= 1e3;  // huge raw outputs
  const auto out = layer.forward(uniform_matrix(rng, 50, 3, -3, 3));
  CHECK(out.log_det.maxCoeff() <= 3.0 * 3 + 1e-12);
  CHECK(out.log_det.minCoeff() >= -3.0 * 3 - 1e-12);
  CHECK(out.points.allFinite());
}

TEST_CASE("autoregressive layers round-trip at D = 7 in double and float", "[autoregressive]") {
  Random rng(9);
  const Matrix<double> x = uniform_matrix(rng, 100, 7, -5, 5);
  for (const Transformer& transformer : {Transformer::affine(), Transformer::rational_quadratic({10, 3.0})}) {
    const auto layer = MaskedAutoregressive<double>::make(7, transformer, {24, 2, Activation::gelu}, InputOrder::random, rng);
    const auto there = layer.forward(x);
    const auto back = layer.inverse(there.points);
    INFO(transformer.name());
    CHECK((back.points - x).cwiseAbs().maxCoeff() <= 1e-10);
    CHECK((there.log_det + back.log_det).cwiseAbs().maxCoeff() <= 1e-10);

    Random rng_float(10);
    const auto layer_float =
        MaskedAutoregressive<float>::make(7, transformer, {24, 2, Activation::gelu}, InputOrder::random, rng_float);
    const Matrix<float> xf = x.cast<float>();
    const auto back_float = layer_float.inverse(layer_float.forward(xf).points);
    CHECK((back_float.points - xf).cwiseAbs().maxCoeff() <= 1e-4f);
  }
}

TEST_CASE("autoregressive layers reject a missing context and dimension mismatches", "[autoregressive]") {
  Random rng(11);
  Made<double> made(input_degrees(3, InputOrder::natural, rng), 2, 1, {8, 1, Activation::relu}, HiddenDegrees::cyclic, rng);
  const MaskedAutoregressive<double> conditional(made, Transformer::affine());  // a context of 1: every call needs one
  CHECK(conditional.context_dim() == 1);
  CHECK_THROWS_WITH(conditional.forward(Matrix<double>::Zero(4, 3)), Catch::Contains("context of 1 columns; none given"));
  Made<double> wrong_width(input_degrees(3, InputOrder::natural, rng), 3, 0, {8, 1, Activation::relu}, HiddenDegrees::cyclic, rng);
  CHECK_THROWS_WITH(MaskedAutoregressive<double>(wrong_width, Transformer::affine()), Catch::Contains("2 parameters per dimension"));
  CHECK_THROWS_AS(MaskedAutoregressive<double>::make(3, Transformer::rational_quadratic({1, 3.0}), {8, 1, Activation::relu},
                                                     InputOrder::natural, rng),
                  ValueError);
  CHECK_THROWS_AS(MaskedAutoregressive<double>::make(1, Transformer::affine(), {8, 1, Activation::relu}, InputOrder::natural, rng),
                  ValueError);
  const auto layer = MaskedAutoregressive<double>::make(3, Transformer::affine(), {8, 1, Activation::relu}, InputOrder::natural, rng);
  CHECK_THROWS_AS(layer.forward(Matrix<double>::Zero(2, 4)), ShapeError);
}

// ---- the rational-quadratic spline as an op -------------------------------

namespace {

/// Random raw spline parameters of scale `spread` for n rows of dim coordinates.
Matrix<double> random_theta(Random& rng, Index n, Index dim, const SplineShape& shape, double spread) {
  return uniform_matrix(rng, n, shape.params_per_dim() * dim, -spread, spread);
}

Matrix<double> all_active(Index dim) { return Matrix<double>::Ones(1, dim); }

}  // namespace

TEST_CASE("the spline passes through its knots, with slope 1 at ±B and linear tails", "[spline]") {
  Random rng(12);
  const SplineShape shape{7, 2.0};
  const Matrix<double> theta = random_theta(rng, 1, 1, shape, 2.0);
  const detail::SplineKnots<double> knots(detail::spline_table(theta, shape.bins, 1), 0, 0, 1, shape.bins, shape.tail_bound);
  CHECK(knots.x[0] == -2.0);
  CHECK(knots.x[7] == 2.0);
  CHECK(knots.y[0] == -2.0);
  CHECK(knots.y[7] == 2.0);
  for (Index k = 0; k < 7; ++k) {
    CHECK(knots.x[static_cast<std::size_t>(k + 1)] - knots.x[static_cast<std::size_t>(k)] >= 4.0 * detail::spline_min_bin * (1 - 1e-12));
    CHECK(knots.y[static_cast<std::size_t>(k + 1)] - knots.y[static_cast<std::size_t>(k)] >= 4.0 * detail::spline_min_bin * (1 - 1e-12));
  }
  for (Index k = 0; k <= 7; ++k) {
    Matrix<double> at(1, 1);
    at(0, 0) = knots.x[static_cast<std::size_t>(k)];
    const auto [y, log_det] = rational_quadratic_spline(at, theta, all_active(1), shape, false);
    INFO("knot " << k);
    CHECK(y(0, 0) == Approx(knots.y[static_cast<std::size_t>(k)]).margin(1e-14));
    CHECK(std::exp(log_det(0, 0)) == Approx(knots.derivative(k)).epsilon(1e-12));
  }
  Matrix<double> tails(1, 1);
  for (double v : {-7.5, -2.0000001, 2.0000001, 40.0}) {
    tails(0, 0) = v;
    const auto [y, log_det] = rational_quadratic_spline(tails, theta, all_active(1), shape, false);
    CHECK(y(0, 0) == v);
    CHECK(log_det(0, 0) == 0.0);
  }
}

TEST_CASE("the spline inverts at, near and between its knots, and in its tails", "[spline]") {
  // Moderate parameters: 1e-12. Extreme ones (bins and derivatives at their
  // minimums) make the spline nearly flat in places (slope ~1e-7), where no
  // inverse can recover x better than ~ε·|y| / slope: there the test asks for
  // that bound (with 9 ulp), and everywhere for a backward error f(f⁻¹(y)) − y
  // of 1e-14 (the closed-form root alone gave 4e-12 here; see the Newton polish).
  Random rng(13);
  for (double spread : {0.5, 3.0, 12.0}) {
    const SplineShape shape{8, 3.0};
    const Index dim = 3, n = 400;
    Matrix<double> theta = random_theta(rng, 1, dim, shape, spread);
    theta = theta.replicate(n, 1).eval();
    Matrix<double> x = uniform_matrix(rng, n, dim, -4, 4);
    const Matrix<double> table = detail::spline_table(theta, shape.bins, dim);
    for (Index j = 0; j < dim; ++j) {
      const detail::SplineKnots<double> knots(table, 0, j, dim, shape.bins, shape.tail_bound);
      for (Index k = 0; k <= shape.bins; ++k)  // on every knot and a hair to either side, in x and in y
        for (int side = -1; side <= 1; ++side) {
          x(k * 6 + side + 1, j) = knots.x[static_cast<std::size_t>(k)] + side * 1e-12;
          x(k * 6 + side + 4, j) = knots.y[static_cast<std::size_t>(k)] + side * 1e-12;
        }
    }
    const auto [y, log_det] = rational_quadratic_spline(x, theta, all_active(dim), shape, false);
    const auto [back, log_det_back] = rational_quadratic_spline(y, theta, all_active(dim), shape, true);
    const auto [y_again, log_det_at_back] = rational_quadratic_spline(back, theta, all_active(dim), shape, false);
    INFO("spread " << spread);
    CHECK(y.allFinite());
    CHECK((y_again - y).cwiseAbs().maxCoeff() <= 1e-14);
    CHECK((log_det_back + log_det_at_back).cwiseAbs().maxCoeff() <= 1e-12);
    for (Index j = 0; j < dim; ++j) {
      Matrix<double> only_j = Matrix<double>::Zero(1, dim);
      only_j(0, j) = 1;
      const Matrix<double> log_slope = rational_quadratic_spline(x, theta, only_j, shape, false).second;
      for (Index r = 0; r < n; ++r) {
        const double allowed = spread <= 3.0 ? 1e-12 : 1e-12 + 2e-15 * (1 + std::abs(y(r, j))) / std::exp(log_slope(r, 0));
        INFO("row " << r << " column " << j << " slope " << std::exp(log_slope(r, 0)));
        CHECK(std::abs(back(r, j) - x(r, j)) <= allowed);
      }
    }
    // monotone: sorting x sorts y
    for (Index j = 0; j < dim; ++j) {
      std::vector<std::pair<double, double>> pairs;
      for (Index r = 0; r < n; ++r) pairs.emplace_back(x(r, j), y(r, j));
      std::sort(pairs.begin(), pairs.end());
      for (std::size_t r = 1; r < pairs.size(); ++r) CHECK(pairs[r].second >= pairs[r - 1].second);
    }
  }
}

TEST_CASE("the spline's gradients match finite differences for points and parameters, both ways", "[spline]") {
  Random rng(14);
  const SplineShape shape{5, 2.0};
  const Index n = 12, dim = 3;
  const Matrix<double> x = uniform_matrix(rng, n, dim, -2.6, 2.6);  // some rows in the tails
  const Matrix<double> theta = random_theta(rng, n, dim, shape, 1.5);
  const Matrix<double> weights = uniform_matrix(rng, n, dim);
  Matrix<double> active = all_active(dim);
  active(0, 1) = 0;  // a passed-through column
  for (const bool inverse : {false, true}) {
    const auto result = check_gradient(
        [&](Tape<double>&, const std::vector<Var<double>>& in) {
          const auto [out, log_det] = rational_quadratic_spline(in[0], in[1], active, shape, inverse);
          return add(mean(mask_multiply(out, weights)), mean(log_det));
        },
        {x, theta});
    INFO((inverse ? "inverse: " : "forward: ") << result.worst);
    CHECK(result.passed);
  }
}

TEST_CASE("the spline rejects impossible shapes", "[spline]") {
  const Matrix<double> x = Matrix<double>::Zero(2, 2);
  CHECK_THROWS_WITH(rational_quadratic_spline(x, Matrix<double>(Matrix<double>::Zero(2, 2 * 2)), all_active(2), SplineShape{1, 3.0}, false),
                    Catch::Contains("bins"));
  CHECK_THROWS_WITH(rational_quadratic_spline(x, Matrix<double>(Matrix<double>::Zero(2, 2 * 14)), all_active(2), SplineShape{5, -1.0}, false),
                    Catch::Contains("tail_bound"));
  CHECK_THROWS_AS(rational_quadratic_spline(x, Matrix<double>(Matrix<double>::Zero(2, 13)), all_active(2), SplineShape{5, 3.0}, false), ShapeError);
  CHECK_THROWS_AS(rational_quadratic_spline(x, Matrix<double>(Matrix<double>::Zero(2, 28)), all_active(3), SplineShape{5, 3.0}, false), ShapeError);
  Random rng(15);
  CHECK_THROWS_AS(SplineCoupling<double>::make(alternating_mask(3, 0), {8, 1, Activation::relu}, {0, 3.0}, rng), ValueError);
  CHECK_THROWS_AS(SplineCoupling<double>::make(RowVector<double>::Ones(3), {8, 1, Activation::relu}, {4, 3.0}, rng), ValueError);
}
