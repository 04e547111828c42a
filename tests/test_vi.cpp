// Variational inference (vi/): the built-in energies against the formulas of
// docs/variational-inference.md written again here with std:: functions, their
// normalisers against a grid, the reverse-KL loss gradient against finite
// differences with common random numbers, a fit that recovers a Gaussian and
// its log Z, the importance estimator's unbiasedness and Pareto k̂, and bad
// targets refused with the parameters kept.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::uniform_matrix;

namespace {

double log_add_exp(double a, double b) { return std::max(a, b) + std::log1p(std::exp(-std::abs(a - b))); }

/// The energies of docs/variational-inference.md, one point at a time.
double reference_energy(const std::string& name, double z1, double z2) {
  const double w1 = std::sin(2 * M_PI * z1 / 4), w2 = 3 * std::exp(-0.5 * std::pow((z1 - 1) / 0.6, 2)),
               w3 = 3 / (1 + std::exp(-(z1 - 1) / 0.3)), bound = 0.5 * std::pow(z1 / 4, 8);
  if (name == "u1")
    return 0.5 * std::pow((std::hypot(z1, z2) - 2) / 0.4, 2) -
           log_add_exp(-0.5 * std::pow((z1 - 2) / 0.6, 2), -0.5 * std::pow((z1 + 2) / 0.6, 2));
  if (name == "u2") return 0.5 * std::pow((z2 - w1) / 0.4, 2) + bound;
  if (name == "u3") return -log_add_exp(-0.5 * std::pow((z2 - w1) / 0.35, 2), -0.5 * std::pow((z2 - w1 + w2) / 0.35, 2)) + bound;
  if (name == "u4") return -log_add_exp(-0.5 * std::pow((z2 - w1) / 0.4, 2), -0.5 * std::pow((z2 - w1 + w3) / 0.35, 2)) + bound;
  if (name == "banana") return z1 * z1 / 200 + 0.5 * std::pow(z2 + 0.03 * z1 * z1 - 3, 2);
  if (name == "funnel") return z1 * z1 / 18 + 0.5 * z2 * z2 * std::exp(-z1) + z1 / 2;
  // ring: −log of the 8gaussians mixture density, summed directly
  const double sd = 0.5 / 1.414, radius = 4 / 1.414;
  double density = 0;
  for (int k = 0; k < 8; ++k) {
    const double dx = z1 - radius * std::cos(k * M_PI / 4), dy = z2 - radius * std::sin(k * M_PI / 4);
    density += std::exp(-(dx * dx + dy * dy) / (2 * sd * sd)) / (2 * M_PI * sd * sd) / 8;
  }
  return -std::log(density);
}

/// U(x) = ½(x − μ)ᵀ Σ⁻¹ (x − μ), log Z = (D/2) log 2π + ½ log det Σ.
struct GaussianTarget {
  RowVector<double> mean;
  Matrix<double> covariance;
  Matrix<double> precision() const { return covariance.inverse(); }
  double log_normalizer() const {
    return 0.5 * static_cast<double>(mean.size()) * std::log(2 * M_PI) + 0.5 * std::log(covariance.determinant());
  }
  Target<double> target() const {
    const Matrix<double> p = precision(), m = mean;
    return make_target<double>("gaussian", mean.size(), [p, m](const auto& x) {
      const auto centred = sub(x, m);
      return scale(row_dot(matmul(centred, p), centred), 0.5);
    });
  }
};

GaussianTarget correlated_gaussian(Index dim, Random& rng) {
  const Matrix<double> a = uniform_matrix(rng, dim, dim, -1, 1);
  GaussianTarget g{uniform_matrix(rng, 1, dim, -2, 2), a * a.transpose() + 0.3 * Matrix<double>::Identity(dim, dim)};
  return g;
}

/// An affine flow x = A u + b in the sampling direction: any Gaussian is one of its q.
FlowStack<double> affine_flow(Index dim, Random& rng) {
  FlowStack<double> flow(dim);
  flow.append(ActNorm<double>(dim));
  flow.append(Inverted<DenseLinear<double>>(DenseLinear<double>::random(dim, rng)));
  return flow;
}

}  // namespace

TEST_CASE("sin, cos, row_norms and row_logsumexp: values and gradients", "[vi][ops]") {
  Random rng(1);
  const Matrix<double> x = uniform_matrix(rng, 6, 4, -3, 3);
  CHECK((sin(x) - x.array().sin().matrix()).cwiseAbs().maxCoeff() == 0);
  CHECK((row_norms(x) - x.rowwise().norm()).cwiseAbs().maxCoeff() <= 1e-15);
  Matrix<double> huge = x;
  huge.col(0).array() += 800;  // exp overflows without the shift
  const Matrix<double> lse = row_logsumexp(huge);
  for (Index i = 0; i < x.rows(); ++i) {
    double direct = 0;
    for (Index j = 0; j < x.cols(); ++j) direct += std::exp(huge(i, j) - 800);
    CHECK(lse(i, 0) == Approx(800 + std::log(direct)).epsilon(1e-15));
  }
  const auto result = check_gradient(
      [](Tape<double>&, const std::vector<Var<double>>& v) {
        return sum(add(add(row_logsumexp(mul(v[0], cos(v[0]))), row_norms(sin(v[0]))), row_logsumexp(v[0])));
      },
      {x}, {1e-6, 1e-8});
  CHECK(result.passed);
  INFO(result.worst);

  // At the origin the norm's gradient is the subgradient 0, not NaN.
  Tape<double> tape;
  const Var<double> origin = tape.variable(Matrix<double>::Zero(1, 3));
  tape.backward(sum(row_norms(origin)));
  CHECK(origin.adjoint().isZero());
}

TEST_CASE("relu keeps NaN, plain and taped, so finiteness checks see it", "[vi][ops]") {
  Matrix<double> x(1, 3);
  x << -1, std::numeric_limits<double>::quiet_NaN(), 2;
  const Matrix<double> plain = relu(x);
  CHECK(plain(0, 0) == 0);
  CHECK(std::isnan(plain(0, 1)));
  CHECK(plain(0, 2) == 2);
  Tape<double> tape;
  CHECK(std::isnan(relu(tape.constant(x)).value()(0, 1)));
}

TEST_CASE("radial's gradients are finite exactly at its centre z0", "[vi][layers]") {
  Random rng(2);
  const Radial<double> radial = Radial<double>::random(2, rng);
  Matrix<double> x = radial.z0();
  Radial<double> layer = radial;
  for (bool inverse : {false, true}) {
    Tape<double> tape;
    const Var<double> input = tape.variable(x);
    const TapedTransformed<double> out = inverse ? layer.inverse(tape, input) : layer.forward(tape, input);
    zero_grad(layer.parameters());
    tape.backward(sum(add(row_sums(out.points), out.log_det)));
    INFO((inverse ? "inverse" : "forward"));
    CHECK(input.adjoint().allFinite());
    for (const auto* p : layer.parameters()) CHECK(p->grad.allFinite());
  }
}

TEST_CASE("built-in energies match their formulas, on plain matrices and on the tape", "[vi][targets]") {
  Random rng(3);
  const Matrix<double> z = uniform_matrix(rng, 40, 2, -4, 4);
  for (const auto& info : targets()) {
    INFO(info.name);
    const Target<double> target = make_builtin_target<double>(info.name);
    const ColumnVector<double> u = target.energy(z);
    for (Index i = 0; i < z.rows(); ++i) CHECK(u(i) == Approx(reference_energy(info.name, z(i, 0), z(i, 1))).epsilon(1e-12).margin(1e-12));
    Tape<double> tape;
    CHECK((target.energy(tape, tape.constant(z)).value() - u).cwiseAbs().maxCoeff() == 0);
    const Matrix<double> points = uniform_matrix(rng, 5, 2, -2, 2);
    const auto gradient = check_gradient(
        [&](Tape<double>& t, const std::vector<Var<double>>& v) { return sum(target.energy(t, v[0])); }, {points}, {1e-6, 1e-7});
    INFO(gradient.worst);
    CHECK(gradient.passed);
  }
  const Target<float> single = make_builtin_target<float>("u3");
  CHECK(single.energy(z.cast<float>())(0) == Approx(reference_energy("u3", z(0, 0), z(0, 1))).epsilon(1e-5));
}

TEST_CASE("log Z of every built-in target against the midpoint rule on a fine grid", "[vi][targets]") {
  // The docs' values for U1–U4 (DATASETS.md: [−8, 8]², spacing 0.01) at spacing 0.02;
  // the closed forms of banana and ring on boxes holding all their mass. (The funnel's
  // neck is too thin for a grid; its energy is checked against its formula above.)
  for (const char* name : {"u1", "u2", "u3", "u4"}) {
    INFO(name);
    CHECK(grid_log_normalizer(make_builtin_target<double>(name), -8, 8, 0.02) == Approx(target_info(name).log_normalizer).margin(6e-5));
  }
  CHECK(grid_log_normalizer(make_builtin_target<double>("banana"), -60, 60, 0.1) == Approx(std::log(20 * M_PI)).margin(1e-6));
  CHECK(grid_log_normalizer(make_builtin_target<double>("ring"), -6, 6, 0.02) == Approx(0).margin(1e-6));
}

TEST_CASE("the reverse-KL loss gradient matches finite differences with common random numbers", "[vi][gradient]") {
  Random rng(4);
  FlowStack<double> flow(2);
  flow.append(Inverted<Planar<double>>(Planar<double>::random(2, rng)));
  flow.append(Inverted<Radial<double>>(Radial<double>::random(2, rng)));
  flow.append(AffineCoupling<double>::make(alternating_mask<double>(2, 0), {8, 1, Activation::tanh}, Conditioner::separate,
                                           ScaleActivation::tanh, rng));
  flow.append(Inverted<Planar<double>>(Planar<double>::random(2, rng)));
  flow.set_preprocess((RowVector<double>(2) << 0.1, -0.2).finished(), (RowVector<double>(2) << 1.3, 0.8).finished());
  const Matrix<double> u = flow.base().sample(64, rng);  // the same base points for every evaluation
  for (const char* name : {"u1", "u4", "ring"}) {
    INFO(name);
    const Target<double> target = make_builtin_target<double>(name);
    for (double beta : {1.0, 0.3}) {
      const auto result = check_parameter_gradients(
          [&](Tape<double>& tape) { return reverse_kl_loss(flow, tape, target, u, beta); }, flow.parameters(), {1e-6, 1e-7});
      INFO(result.worst);
      CHECK(result.passed);
      Tape<double> tape;
      CHECK(reverse_kl_loss(flow, tape, target, u, beta).value()(0, 0) == Approx(reverse_kl_loss(flow, target, u, beta)).epsilon(1e-13));
    }
  }
}

TEST_CASE("a target given as value and gradient trains like the same target on the tape", "[vi][targets]") {
  Random rng(5);
  const GaussianTarget g = correlated_gaussian(3, rng);
  const Target<double> taped = g.target();
  const Matrix<double> p = g.precision();
  const RowVector<double> m = g.mean;
  const Target<double> supplied = make_target_with_gradient<double>("gaussian", 3, [p, m](const Matrix<double>& x) {
    const Matrix<double> centred = x.rowwise() - m;
    return std::make_pair(Matrix<double>(0.5 * (centred * p).cwiseProduct(centred).rowwise().sum()), Matrix<double>(centred * p));
  });
  FlowStack<double> flow = affine_flow(3, rng);
  const Matrix<double> u = flow.base().sample(32, rng);
  auto gradients = [&](const Target<double>& target) {
    zero_grad(flow.parameters());
    Tape<double> tape;
    tape.backward(reverse_kl_loss(flow, tape, target, u));
    std::vector<Matrix<double>> out;
    for (const auto* parameter : flow.parameters()) out.push_back(parameter->grad);
    return out;
  };
  const auto expected = gradients(taped), got = gradients(supplied);
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK((expected[i] - got[i]).cwiseAbs().maxCoeff() <= 1e-12);
  const auto result = check_parameter_gradients([&](Tape<double>& tape) { return reverse_kl_loss(flow, tape, supplied, u); },
                                                flow.parameters(), {1e-6, 1e-7});
  INFO(result.worst);
  CHECK(result.passed);
}

TEST_CASE("fitting an affine flow to a Gaussian target recovers its mean, covariance and log Z", "[vi][fit]") {
  for (Index dim : {2, 6}) {
    INFO("D=" << dim);
    Random rng(10 + static_cast<std::uint64_t>(dim));
    const GaussianTarget g = correlated_gaussian(dim, rng);
    FlowStack<double> flow = affine_flow(dim, rng);
    // The reparameterised gradient keeps a zero-mean score term even at q = p (Roeder et al.
    // 2017), so the fit is noise-limited: a large batch and a decaying rate pin it down.
    AdamOptions adam;
    adam.learning_rate = 1e-2;
    Adam<double> optimizer(flow.parameters(), adam);
    FitOptions options;
    options.steps = 8000;
    options.batch_size = 512;
    options.schedule = LearningRateSchedule::cosine(1e-2, options.steps, 1e-4);
    const FitResult result = fit_reverse_kl(flow, optimizer, g.target(), options);
    REQUIRE(result.steps == options.steps);

    // q = N(b, S = A Aᵀ) exactly; read b and A off the flow, then KL(q‖p) in closed form:
    // ½[tr(Σ⁻¹S) + (μ − b)ᵀΣ⁻¹(μ − b) − D + log det Σ − log det S].
    const RowVector<double> b = flow.inverse(Matrix<double>::Zero(1, dim)).points;
    const Matrix<double> a = (flow.inverse(Matrix<double>::Identity(dim, dim)).points.rowwise() - b).transpose();
    const Matrix<double> s = a * a.transpose(), p = g.precision();
    const RowVector<double> offset = g.mean - b;
    const double kl = 0.5 * ((p * s).trace() + (offset * p * offset.transpose())(0, 0) - static_cast<double>(dim) +
                             std::log(g.covariance.determinant()) - std::log(s.determinant()));
    CHECK(kl < 1e-3);
    CHECK(offset.cwiseAbs().maxCoeff() <= 0.01);
    CHECK((s - g.covariance).cwiseAbs().maxCoeff() <= 0.01 * g.covariance.cwiseAbs().maxCoeff());
    // Monte Carlo against the closed form: E[ELBO] = log Z − KL, E[Ẑ] = Z.
    Random check(99);
    const ImportanceEstimate estimate = estimate_log_normalizer(flow, g.target(), 20000, check);
    CHECK(std::abs(estimate.elbo - (g.log_normalizer() - kl)) <= 4 * estimate.elbo_se + 1e-9);
    CHECK(std::abs(estimate.log_normalizer - g.log_normalizer()) <= 4 * estimate.log_normalizer_se + 1e-9);
    CHECK(estimate.ess_fraction() > 0.99);
    CHECK(result.history.back().elbo == Approx(g.log_normalizer()).margin(0.01));
  }
}

TEST_CASE("the importance estimate of Z is unbiased and its standard error is honest", "[vi][importance]") {
  // q = N(0, 1.5² I) (wider than p, so the weights have finite variance) against a correlated Gaussian.
  Random rng(20);
  const GaussianTarget g{(RowVector<double>(2) << 0.5, -0.3).finished(), (Matrix<double>(2, 2) << 1.0, 0.6, 0.6, 0.8).finished()};
  FlowStack<double> flow(2);
  flow.set_preprocess(RowVector<double>::Zero(2), RowVector<double>::Constant(2, 1.5));
  const Target<double> target = g.target();
  const int replicates = 2000;
  double sum = 0, sum_sq = 0, elbo = 0;
  for (int r = 0; r < replicates; ++r) {
    const ImportanceEstimate e = estimate_log_normalizer(flow, target, 20, rng);
    const double ratio = std::exp(e.log_normalizer - g.log_normalizer());  // Ẑ / Z
    sum += ratio;
    sum_sq += ratio * ratio;
    elbo += e.elbo;
  }
  const double mean = sum / replicates, se = std::sqrt((sum_sq / replicates - mean * mean) / replicates);
  CHECK(std::abs(mean - 1) < 4 * se);
  CHECK(se < 0.02);                                  // the check above has power
  CHECK(elbo / replicates < g.log_normalizer() - 0.05);  // the ELBO is a strict lower bound when q ≠ p

  // One large estimate: its reported standard error matches the spread of repeated ones.
  std::vector<double> logs;
  double reported = 0;
  for (int r = 0; r < 200; ++r) {
    const ImportanceEstimate e = estimate_log_normalizer(flow, target, 2000, rng);
    logs.push_back(e.log_normalizer);
    reported += e.log_normalizer_se / 200;
  }
  double m = 0, v = 0;
  for (double x : logs) m += x / 200;
  for (double x : logs) v += (x - m) * (x - m) / 199;
  CHECK(std::sqrt(v) == Approx(reported).epsilon(0.2));
}

TEST_CASE("Pareto k-hat recovers the tail index of generalised-Pareto weights", "[vi][importance]") {
  Random rng(30);
  const int n = 100000;
  const double tail = 3 * std::sqrt(double(n));  // the weights k̂ is fitted to
  for (double k : {0.3, 0.6, 1.0}) {
    INFO("k=" << k);
    std::vector<double> log_weights;
    for (int i = 0; i < n; ++i) log_weights.push_back(std::log((std::pow(rng.uniform(), -k) - 1) / k));  // GPD(k, σ = 1)
    CHECK(pareto_k_hat(log_weights) == Approx(k).margin(3 * (1 + k) / std::sqrt(tail)));  // 3 asymptotic SEs of the MLE
  }
  std::vector<double> light;  // log-normal weights with a small spread: a light tail
  for (int i = 0; i < 20000; ++i) light.push_back(0.1 * rng.normal());
  CHECK(pareto_k_hat(light) < 0.2);
  CHECK(std::isnan(pareto_k_hat({0.0, 1.0, 2.0})));
}

TEST_CASE("fit refuses bad targets with a clear error and keeps the last good parameters", "[vi][errors]") {
  Random rng(40);
  FlowStack<double> flow(2);
  for (int k = 0; k < 4; ++k) flow.append(Inverted<Planar<double>>(Planar<double>::random(2, rng)));
  AdamOptions adam;
  adam.learning_rate = 1e-2;
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  for (double bad : {nan, inf}) {
    INFO("bad energy " << bad);
    // ½‖x‖², but `bad` beyond x₁ = 2: some step's batch reaches there.
    const Target<double> target = make_target<double>("walled", 2, [bad](const auto& x) {
      const Matrix<double> wall = (value_of(x).col(0).array() > 2).select(Matrix<double>::Constant(value_of(x).rows(), 1, bad),
                                                                          Matrix<double>::Zero(value_of(x).rows(), 1));
      return add(scale(row_sums(square(x)), 0.5), wall);
    });
    FlowStack<double> fitted = flow;
    Adam<double> optimizer(fitted.parameters(), adam);
    FitOptions options;
    options.steps = 1000;
    options.report_every = 1;
    std::vector<Matrix<double>> before;
    options.on_report = [&](const FitReport&) {
      before.clear();
      for (const auto* p : fitted.parameters()) before.push_back(p->value);
      return true;
    };
    try {
      fit_reverse_kl(fitted, optimizer, target, options);
      FAIL("no error");
    } catch (const NumericalError& e) {
      const std::string message = e.what();
      CHECK(message.find("target 'walled'") != std::string::npos);
      CHECK(message.find("were kept") != std::string::npos);
    }
    REQUIRE(!before.empty());
    const auto parameters = fitted.parameters();
    for (std::size_t i = 0; i < parameters.size(); ++i) CHECK(parameters[i]->value == before[i]);
  }

  Adam<double> optimizer(flow.parameters(), adam);
  FitOptions options;
  options.steps = 5;
  const Target<double> wrong_shape = make_target<double>("wide", 2, [](const auto& x) { return square(x); });
  CHECK_THROWS_WITH(fit_reverse_kl(flow, optimizer, wrong_shape, options), Catch::Contains("one value per row"));
  const Target<double> three = make_target<double>("three", 3, [](const auto& x) { return row_sums(square(x)); });
  CHECK_THROWS_AS(fit_reverse_kl(flow, optimizer, three, options), ShapeError);
  const Target<double> bad_gradient = make_target_with_gradient<double>(
      "bad gradient", 2, [](const Matrix<double>& x) { return std::make_pair(Matrix<double>(x.rowwise().sum()), Matrix<double>(x.col(0))); });
  CHECK_THROWS_WITH(fit_reverse_kl(flow, optimizer, bad_gradient, options), Catch::Contains("gradient function returned a 256x1"));
  options.batch_size = 0;
  CHECK_THROWS_AS(fit_reverse_kl(flow, optimizer, make_builtin_target<double>("u1"), options), ValueError);
  CHECK_THROWS_WITH(make_builtin_target<double>("u5"), Catch::Contains("unknown target 'u5'"));
  FlowStack<double> learnable_base(2);
  learnable_base.set_base(std::make_unique<DiagonalGaussian<double>>(2));
  Adam<double> base_optimizer(learnable_base.parameters(), adam);
  options.batch_size = 8;
  CHECK_THROWS_WITH(fit_reverse_kl(learnable_base, base_optimizer, make_builtin_target<double>("u1"), options),
                    Catch::Contains("trainable parameters"));
}
