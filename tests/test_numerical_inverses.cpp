// The numerical inverses (planar's root finding, radial's closed-form root) never
// fail: random layers drawn across their extremes (‖w‖ up to 1e3, ûᵀw from −1 + 1e-6
// to 1e6, |b| up to 1e3; radial α from 1e-3 to 1e3, β + α down to 1e-6), in float and
// double, each inverting 10^5 points, a quarter of them read back from a CSV file.
// Every inverse must be finite and reproduce its input through the forward map to
// within the map's own rounding: with the forward evaluated in long double,
//   ‖f(x) − z‖∞ ≤ 16·eps·(‖z‖∞ + ‖J(x)‖∞·(1 + ‖x‖∞ + offsets)) (radial adds ‖z0‖∞ to ‖z‖∞),
// offsets being the magnitudes the map adds (planar: ‖û‖∞, |b|, |m|; radial: ‖z0‖∞,
// α, |β|). This is a backward error: where the map is nearly singular (ûᵀw → −1,
// β → −α) a round trip x → z → x loses what the conditioning takes, no solver helps.
#include <catch2/catch.hpp>

#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "layer_zoo.hpp"
#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::inverse_softplus;

namespace {

using Extended = long double;

/// 10^U(lo, hi).
double log_uniform(Random& rng, double lo, double hi) { return std::pow(10.0, rng.uniform(lo, hi)); }

/// A planar layer whose ûᵀw = m: raw u = k·w/‖w‖² + v with v ⟂ w and
/// softplus(k) − 1 = m, so û = v + m·w/‖w‖².
template <class S>
Planar<S> extreme_planar(Index dim, Random& rng) {
  RowVector<double> direction(dim), v(dim);
  for (Index j = 0; j < dim; ++j) direction(j) = rng.normal();
  const RowVector<double> w = direction.normalized() * log_uniform(rng, -3, 3);
  for (Index j = 0; j < dim; ++j) v(j) = rng.normal();
  v -= (v.dot(w) / w.squaredNorm()) * w;
  v *= log_uniform(rng, -2, 1);
  const double m = rng.uniform() < 0.4 ? -1 + log_uniform(rng, -6, 0) : log_uniform(rng, -3, 6);
  const RowVector<double> u = w * (inverse_softplus(m + 1) / w.squaredNorm()) + v;
  const double b = (rng.uniform() < 0.5 ? -1 : 1) * log_uniform(rng, -3, 3);
  return Planar<S>(u.cast<S>(), w.cast<S>(), static_cast<S>(b));
}

/// A radial layer with α = softplus(α_raw) and β + α = gap, both log-uniform.
template <class S>
Radial<S> extreme_radial(Index dim, Random& rng) {
  RowVector<double> z0(dim);
  const double spread = log_uniform(rng, -1, 2);
  for (Index j = 0; j < dim; ++j) z0(j) = spread * rng.normal();
  const double alpha = log_uniform(rng, -3, 3), gap = log_uniform(rng, -6, 3);
  return Radial<S>(z0.cast<S>(), static_cast<S>(inverse_softplus(alpha)), static_cast<S>(inverse_softplus(gap)));
}

/// ‖f(x) − z‖∞ / (eps·scale) for one planar point, f evaluated in long double.
template <class S>
double planar_residual_in_eps(const Planar<S>& layer, const Matrix<S>& u_hat, const Matrix<S>& x, const Matrix<S>& z, Index i) {
  const Index d = x.cols();
  Extended alpha = layer.b(), m = 0, norm_u = 0, norm_w1 = 0, norm_x = 0, norm_z = 0;
  for (Index j = 0; j < d; ++j) {
    alpha += Extended(layer.w()(0, j)) * Extended(x(i, j));
    m += Extended(u_hat(0, j)) * Extended(layer.w()(0, j));
    norm_u = std::max(norm_u, std::abs(Extended(u_hat(0, j))));
    norm_w1 += std::abs(Extended(layer.w()(0, j)));
    norm_x = std::max(norm_x, std::abs(Extended(x(i, j))));
    norm_z = std::max(norm_z, std::abs(Extended(z(i, j))));
  }
  const Extended h = std::tanh(alpha);
  Extended residual = 0;
  for (Index j = 0; j < d; ++j)
    residual = std::max(residual, std::abs(Extended(x(i, j)) + Extended(u_hat(0, j)) * h - Extended(z(i, j))));
  const Extended jacobian = 1 + norm_u * norm_w1 * (1 - h * h);
  const Extended scale = norm_z + jacobian * (1 + norm_x + norm_u + std::abs(Extended(layer.b())) + std::abs(m));
  return static_cast<double>(residual / (Extended(std::numeric_limits<S>::epsilon()) * scale));
}

/// The same for one radial point: f(x) = x + β·(x − z0)/(α + ‖x − z0‖).
template <class S>
double radial_residual_in_eps(const Radial<S>& layer, const Matrix<S>& x, const Matrix<S>& z, Index i) {
  const Index d = x.cols();
  const auto softplus = [](Extended a) { return a > 30 ? a + std::log1p(std::exp(-a)) : std::log1p(std::exp(a)); };
  const Extended alpha = softplus(layer.alpha_raw()), beta = softplus(layer.beta_raw()) - alpha;
  Extended r2 = 0, norm_x = 0, norm_z = 0, norm_z0 = 0;
  for (Index j = 0; j < d; ++j) {
    const Extended offset = Extended(x(i, j)) - Extended(layer.z0()(0, j));
    r2 += offset * offset;
    norm_x = std::max(norm_x, std::abs(Extended(x(i, j))));
    norm_z = std::max(norm_z, std::abs(Extended(z(i, j))));
    norm_z0 = std::max(norm_z0, std::abs(Extended(layer.z0()(0, j))));
  }
  const Extended r = std::sqrt(r2), factor = beta / (alpha + r);
  Extended residual = 0;
  for (Index j = 0; j < d; ++j) {
    const Extended offset = Extended(x(i, j)) - Extended(layer.z0()(0, j));
    residual = std::max(residual, std::abs(Extended(x(i, j)) + factor * offset - Extended(z(i, j))));
  }
  const Extended jacobian = 1 + 2 * std::sqrt(Extended(d)) * std::abs(factor);
  const Extended scale = norm_z + norm_z0 + jacobian * (1 + norm_x + norm_z0 + alpha + std::abs(beta));
  return static_cast<double>(residual / (Extended(std::numeric_limits<S>::epsilon()) * scale));
}

/// Targets z for one layer: forward images of Gaussian points at a random scale (the
/// model's own samples), and Gaussian points anywhere (both maps are onto R^D).
template <class S, class L>
Matrix<S> targets(const L& layer, Index rows, Random& rng) {
  const Index d = layer.dim();
  const double scale = log_uniform(rng, -1, 2);
  Matrix<double> x(rows, d);
  for (Index k = 0; k < x.size(); ++k) x.data()[k] = scale * rng.normal();
  Matrix<S> z = x.cast<S>();
  const Matrix<S> images = layer.forward(z.topRows(rows / 2)).points;
  z.topRows(rows / 2) = images;
  return z;
}

/// z through a CSV file and back: the shortest round-trip digits of each value.
template <class S>
Matrix<S> through_csv(const Matrix<S>& z, const std::string& name) {
  const std::string path = "eigenflow_test_" + name + ".csv";
  write_csv(path, z, {});
  Matrix<S> back = read_csv(path, z.cols()).values.template cast<S>();
  std::remove(path.c_str());
  return back;
}

/// Inverts 10^5 points over `layers` random layers; returns the worst residual in eps units.
template <class S, class MakeLayer, class Residual>
double worst_inverse_residual(const char* name, MakeLayer make_layer, Residual residual_in_eps, std::uint64_t seed) {
  constexpr Index layers = 50, rows = 2000;
  Random rng(seed);
  double worst = 0;
  for (Index k = 0; k < layers; ++k) {
    const Index dim = 1 + static_cast<Index>(rng.uniform() * 8);
    const auto layer = make_layer(dim, rng);
    Matrix<S> z = targets<S>(layer, rows, rng);
    if (!z.allFinite()) continue;  // a forward image beyond S's range is not a point the model can hold
    z.bottomRows(rows / 4) = through_csv<S>(z.bottomRows(rows / 4), name);
    Matrix<S> x;
    INFO(name << " layer " << k << " (D = " << dim << ")");
    REQUIRE_NOTHROW(x = layer.inverse(z).points);
    REQUIRE(x.allFinite());
    for (Index i = 0; i < rows; ++i) worst = std::max(worst, residual_in_eps(layer, x, z, i));
  }
  return worst;
}

template <class S>
void check_planar_and_radial(std::uint64_t seed) {
  const double planar_worst = worst_inverse_residual<S>(
      "planar", [](Index d, Random& rng) { return extreme_planar<S>(d, rng); },
      [](const Planar<S>& layer, const Matrix<S>& x, const Matrix<S>& z, Index i) {
        return planar_residual_in_eps(layer, Matrix<S>(layer.u_hat()), x, z, i);
      },
      seed);
  const double radial_worst = worst_inverse_residual<S>(
      "radial", [](Index d, Random& rng) { return extreme_radial<S>(d, rng); },
      [](const Radial<S>& layer, const Matrix<S>& x, const Matrix<S>& z, Index i) { return radial_residual_in_eps(layer, x, z, i); },
      seed + 1);
  std::printf("[report] %s inverses, worst ‖f(x) − z‖∞ in units of eps·scale: planar %.3g, radial %.3g\n",
              sizeof(S) == 4 ? "float" : "double", planar_worst, radial_worst);
  CHECK(planar_worst <= 16);
  CHECK(radial_worst <= 16);
}

}  // namespace

TEST_CASE("planar and radial invert every point of random extreme layers, in float and double", "[layers]") {
  SECTION("double") { check_planar_and_radial<double>(3500); }
  SECTION("float") { check_planar_and_radial<float>(3600); }
}

TEST_CASE("the root finder halves its bracket when Newton cycles", "[layers]") {
  // g(α) = α + 6·tanh(α) − y: from the flat ends Newton jumps to the other flat end
  // (planar's inverse of issue 35 did this 200 times); the bracket rule ends it.
  for (double y : {-4.9, 0.3, 5.5, 40.0}) {
    int evaluations = 0;
    const auto g = [&](double a) {
      ++evaluations;
      return a + 6 * std::tanh(a) - y;
    };
    const auto dg = [](double a) { return 1 + 6 * (1 - std::tanh(a) * std::tanh(a)); };
    const double root = detail::solve_increasing<double>(g, dg, y - 6, y + 6, y + 6, "test");
    INFO("y = " << y << ", " << evaluations << " evaluations");
    CHECK(std::abs(g(root)) <= 1e-13 * std::max(1.0, std::abs(y)));
    CHECK(evaluations <= 2 * 53 + 4);
  }
  const auto decreasing = [](double a) { return -a; };
  const auto slope = [](double) { return -1.0; };
  CHECK_THROWS_AS(detail::solve_increasing<double>(decreasing, slope, -1.0, std::numeric_limits<double>::infinity(), 0.0, "test"),
                  NumericalError);
}
