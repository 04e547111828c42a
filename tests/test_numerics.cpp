// Numerical guards: far-away inputs in float, densities that underflow, and
// root finding that reports failure instead of returning garbage.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <limits>

using namespace eigenflow;

namespace {

FlowStack<float> float_model(Random& rng) {
  FlowStack<float> flow(2);
  RowVector<float> shift(2), scale(2);
  shift << 0.5f, 0.25f;
  scale << 0.8f, 0.5f;
  flow.set_preprocess(shift, scale);
  for (int k = 0; k < 4; ++k)
    flow.append(AffineCoupling<float>::make(alternating_mask<float>(2, k % 2), {32, 2, Activation::relu}, Conditioner::separate,
                                            ScaleActivation::tanh, rng));
  flow.append(LeakyReLU<float>(2, 0.5f));
  flow.append(Planar<float>::random(2, rng));
  flow.append(Radial<float>::random(2, rng));
  return flow;
}

}  // namespace

TEST_CASE("a float model's log_prob stays finite 1e6 away from the data", "[numerics]") {
  Random rng(1);
  const FlowStack<float> flow = float_model(rng);
  Matrix<float> far(8, 2);
  for (Index i = 0; i < 8; ++i) {
    const double angle = 2 * M_PI * static_cast<double>(i) / 8;
    far.row(i) << static_cast<float>(1e6 * std::cos(angle)), static_cast<float>(1e6 * std::sin(angle));
  }
  const ColumnVector<float> log_p = flow.log_prob(far);
  CHECK(log_p.allFinite());
  CHECK(log_p.maxCoeff() < -1e10f);  // tiny densities, still represented
  const Transformed<float> latent = flow.forward(far);
  CHECK(latent.log_det.allFinite());
}

TEST_CASE("log_prob is -inf, never NaN, where the density underflows", "[numerics]") {
  Random rng(2);
  const FlowStack<float> flow = float_model(rng);
  Matrix<float> extreme(3, 2);
  extreme << 1e30f, -1e30f, 3e38f, 3e38f, -3e38f, 1.0f;
  const ColumnVector<float> log_p = flow.log_prob(extreme);
  for (Index i = 0; i < log_p.size(); ++i) {
    CHECK_FALSE(std::isnan(log_p(i)));
    CHECK(log_p(i) == -std::numeric_limits<float>::infinity());
  }
}

TEST_CASE("root finding reports non-convergence instead of returning garbage", "[numerics]") {
  // An increasing function whose Newton steps are useless and whose bracket is
  // huge: 3 iterations cannot reach machine precision.
  auto g = [](double x) { return std::cbrt(x - 1e6); };
  auto dg = [](double) { return 1e-300; };
  CHECK_THROWS_AS(detail::solve_increasing<double>(g, dg, -1e300, 1e300, 0.0, "test", 3), NumericalError);
  CHECK(detail::solve_increasing<double>(g, [](double x) { return std::pow(std::abs(x - 1e6) + 1e-300, -2.0 / 3) / 3; },
                                         -1e7, 1e7, 0.0, "test") == Approx(1e6));
}

TEST_CASE("planar and radial inverses refuse non-finite input", "[numerics]") {
  Random rng(3);
  Matrix<double> bad(1, 2);
  bad << std::numeric_limits<double>::infinity(), 0;
  CHECK_THROWS_AS(Planar<double>::random(2, rng).inverse(bad), ValueError);
  CHECK_THROWS_AS(Radial<double>::random(2, rng).inverse(bad), ValueError);
}
