// Continuous flows beyond the conformance loop (layer_zoo runs their inverse,
// log-det, gradients, save/load and integration to one like every layer's):
//   the solvers on ODEs with known solutions (RK4's order, dopri5's tolerance,
//   its budget and non-finite errors), the exact traces against finite-
//   difference Jacobians of the velocity, Hutchinson's estimator against the
//   exact trace, the RNODE penalty against an independent quadrature, the
//   adjoint gradient against backpropagation through the steps, and a density
//   that integrates to one at the default tolerance.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "layer_zoo.hpp"
#include "test_support.hpp"

using namespace eigenflow;
using eigenflow::test::integrate_2d;
using eigenflow::test::uniform_matrix;

namespace {

// dy/dt = y·cos t, so y(t) = y(0)·exp(sin t).
Matrix<double> cosine_rate(double t, const Matrix<double>& y) { return y * std::cos(t); }

Matrix<double> ode_start() {
  Matrix<double> y(3, 2);
  y << 1, -2, 0.5, 3, -1, 0.25;
  return y;
}

double rk4_error(Index steps) {
  OdeOptions options;
  options.method = OdeMethod::rk4;
  options.steps = steps;
  const Matrix<double> y = solve_ode<double>(cosine_rate, ode_start(), 0.0, 3.0, options);
  return (y - ode_start() * std::exp(std::sin(3.0))).cwiseAbs().maxCoeff();
}

using HyperPlanarFlow = ContinuousFlow<double, HyperPlanarDynamics<double>>;
using MlpFlow = ContinuousFlow<double, MlpDynamics<double>>;

/// ∂f/∂z at one point by central differences of the velocity.
template <class Dynamics>
Matrix<double> velocity_jacobian(const Dynamics& dynamics, const Matrix<double>& row, double t,
                                 const Matrix<double>* context) {
  PlainContext<double> plain;
  const auto bound = dynamics.bind(plain);
  const auto f = [&](const Matrix<double>& z) {
    return dynamics.evaluate(plain, bound, z, t, context, TraceRequest<double>{}).velocity;
  };
  const Index d = row.cols();
  Matrix<double> jacobian(d, d);
  for (Index j = 0; j < d; ++j) {
    Matrix<double> above = row, below = row;
    above(0, j) += 1e-6;
    below(0, j) -= 1e-6;
    jacobian.col(j) = ((f(above) - f(below)) / 2e-6).transpose();
  }
  return jacobian;
}

}  // namespace

TEST_CASE("rk4 converges at fourth order and dopri5 meets its tolerance", "[continuous]") {
  const double coarse = rk4_error(20), fine = rk4_error(40);
  INFO("rk4 error at 20 and 40 steps: " << coarse << ", " << fine);
  CHECK(coarse / fine > 13.0);  // 2⁴ = 16 for a 4th-order method
  CHECK(coarse / fine < 19.0);
  const Matrix<double> exact = ode_start() * std::exp(std::sin(3.0));
  double previous = 1;
  for (const double tolerance : {1e-4, 1e-7, 1e-10}) {
    OdeOptions options;
    options.rtol = options.atol = tolerance;
    OdeStats stats;
    std::vector<double> grid;
    const Matrix<double> y = solve_ode<double>(cosine_rate, ode_start(), 0.0, 3.0, options, &stats, &grid);
    const double error = (y - exact).cwiseAbs().maxCoeff();
    INFO("tolerance " << tolerance << ": error " << error << " in " << stats.accepted << " steps");
    CHECK(error < 50 * tolerance);
    CHECK(error < previous);
    previous = error;
    CHECK(stats.evaluations == 2 + 6 * (stats.accepted + stats.rejected));
    REQUIRE(grid.size() == static_cast<std::size_t>(stats.accepted + 1));
    CHECK(grid.front() == 0.0);
    CHECK(grid.back() == 3.0);
    CHECK(std::is_sorted(grid.begin(), grid.end()));
    // backwards in time returns to the start
    const Matrix<double> back = solve_ode<double>(cosine_rate, y, 3.0, 0.0, options);
    CHECK((back - ode_start()).cwiseAbs().maxCoeff() < 100 * tolerance);
  }
}

TEST_CASE("solvers refuse impossible options and report budgets and blow-ups", "[continuous]") {
  OdeOptions options;
  options.rtol = -1;
  CHECK_THROWS_AS(solve_ode<double>(cosine_rate, ode_start(), 0.0, 1.0, options), ValueError);
  options = {};
  options.rtol = options.atol = 0;
  CHECK_THROWS_AS(solve_ode<double>(cosine_rate, ode_start(), 0.0, 1.0, options), ValueError);
  options = {};
  options.rtol = options.atol = 1e-15;
  CHECK_THROWS_AS(solve_ode<double>(cosine_rate, ode_start(), 0.0, 1.0, options), ValueError);
  options = {};
  options.method = OdeMethod::rk4;
  options.steps = 0;
  CHECK_THROWS_AS(solve_ode<double>(cosine_rate, ode_start(), 0.0, 1.0, options), ValueError);
  // a stiff problem under a small budget
  options = {};
  options.max_steps = 30;
  const auto stiff = [](double t, const Matrix<double>& y) {
    return Matrix<double>(-1e5 * (y.array() - std::cos(t)).matrix());
  };
  CHECK_THROWS_WITH(solve_ode<double>(stiff, ode_start(), 0.0, 1.0, options, nullptr, nullptr, "stiff"),
                    Catch::Contains("stiff") && Catch::Contains("max_steps=30"));
  // y' = y² from y(0) = 1 leaves every bound at t = 1
  const auto blow_up = [](double, const Matrix<double>& y) { return Matrix<double>(y.array().square().matrix()); };
  options = {};
  CHECK_THROWS_AS(solve_ode<double>(blow_up, Matrix<double>(Matrix<double>::Ones(2, 1)), 0.0, 2.0, options), NumericalError);
  options.method = OdeMethod::rk4;
  options.steps = 10;
  CHECK_THROWS_AS(solve_ode<double>(blow_up, Matrix<double>(Matrix<double>::Ones(2, 1)), 0.0, 2.0, options), NumericalError);
}

TEST_CASE("the solvers on a tape record the plain values and differentiate the discrete solution", "[continuous]") {
  for (const OdeMethod method : {OdeMethod::rk4, OdeMethod::dopri5}) {
    OdeOptions options;
    options.method = method;
    options.rtol = options.atol = 1e-9;
    Random rng(5);
    const Matrix<double> a = uniform_matrix(rng, 1, 2, -1, 1);
    // dy/dt = a ⊙ y·sin(y): nonlinear, so the gradient is not a closed form
    const auto rate = [&](double, const auto& y) { return mul(mul(y, sin(y)), a); };
    const Matrix<double> y0 = ode_start();
    const Matrix<double> plain = solve_ode<double>(rate, y0, 0.0, 1.5, options);
    Tape<double> tape;
    const Var<double> taped = solve_ode<double>(rate, tape.constant(y0), 0.0, 1.5, options);
    CHECK(taped.value() == plain);
    const auto result = check_gradient(
        [&](Tape<double>&, const std::vector<Var<double>>& in) {
          return sum(square(solve_ode<double>(rate, in[0], 0.0, 1.5, options)));
        },
        {y0}, {1e-6, 1e-6});
    INFO(to_string(method) << ": " << result.worst);
    CHECK(result.passed);
  }
}

TEST_CASE("exact traces and Jacobian norms equal those of finite-difference Jacobians", "[continuous]") {
  Random rng(7);
  const Matrix<double> context = uniform_matrix(rng, 1, 2, -1, 1);
  for (const Index context_dim : {Index(0), Index(2)}) {
    const HyperPlanarDynamics<double> hyper(3, 6, 5, context_dim, rng);
    const MlpDynamics<double> mlp = eigenflow::test::random_mlp_dynamics(3, context_dim, Activation::tanh, rng);
    const Matrix<double>* c = context_dim > 0 ? &context : nullptr;
    const auto check = [&](const auto& dynamics, const char* name) {
      for (const double t : {0.0, 0.7}) {
        const Matrix<double> z = uniform_matrix(rng, 1, 3, -2, 2);
        PlainContext<double> plain;
        const auto bound = dynamics.bind(plain);
        TraceRequest<double> request;
        request.jacobian = true;
        const auto ev = dynamics.evaluate(plain, bound, z, t, c, request);
        const Matrix<double> jacobian = velocity_jacobian(dynamics, z, t, c);
        INFO(name << " context " << context_dim << " t=" << t);
        CHECK(ev.trace(0, 0) == Approx(jacobian.trace()).margin(1e-8));
        CHECK(ev.jacobian(0, 0) == Approx(jacobian.squaredNorm()).margin(1e-8));
      }
    };
    check(hyper, "hyper_planar");
    check(mlp, "mlp");
  }
}

TEST_CASE("Hutchinson's estimates average to the exact trace and Jacobian norm", "[continuous]") {
  Random rng(8);
  const HyperPlanarDynamics<double> hyper(4, 8, 6, 0, rng);
  const MlpDynamics<double> mlp = eigenflow::test::random_mlp_dynamics(4, 0, Activation::silu, rng);
  const auto check = [&](const auto& dynamics, TraceEstimator estimator, const char* name) {
    const Index draws = 20000;
    const Matrix<double> z = Matrix<double>(uniform_matrix(rng, 1, 4, -1.5, 1.5)).replicate(draws, 1);
    // one probe per row of the same point
    const Matrix<double> points = uniform_matrix(rng, draws, 4, -100, 100);
    const Matrix<double> probe = detail::hutchinson_probe(points, estimator, 11);
    if (estimator == TraceEstimator::rademacher) CHECK((probe.array().abs() == 1.0).all());
    PlainContext<double> plain;
    const auto bound = dynamics.bind(plain);
    TraceRequest<double> exact_request, probe_request;
    exact_request.jacobian = probe_request.jacobian = true;
    probe_request.probe = &probe;
    const auto exact = dynamics.evaluate(plain, bound, Matrix<double>(z.topRows(1)), 0.3, nullptr, exact_request);
    const auto estimate = dynamics.evaluate(plain, bound, z, 0.3, nullptr, probe_request);
    for (const auto& [values, truth, what] :
         {std::tuple{estimate.trace, exact.trace(0, 0), "trace"}, std::tuple{estimate.jacobian, exact.jacobian(0, 0), "norm"}}) {
      const double mean = values.mean();
      const double stderr_ = std::sqrt((values.array() - mean).square().sum() / (draws - 1) / draws);
      INFO(name << " " << to_string(estimator) << " " << what << ": mean " << mean << " exact " << truth << " stderr "
                << stderr_);
      CHECK(std::abs(mean - truth) < 4 * stderr_ + 1e-12);
      CHECK(stderr_ > 0);
    }
  };
  for (const auto estimator : {TraceEstimator::gaussian, TraceEstimator::rademacher}) {
    check(hyper, estimator, "hyper_planar");
    check(mlp, estimator, "mlp");
  }
}

TEST_CASE("the RNODE penalty is the integral of the kinetic energy and Jacobian norm along the path", "[continuous]") {
  Random rng(9);
  OdeOptions tight;
  tight.rtol = tight.atol = 1e-11;
  CnfTraining training;
  training.kinetic = 0.3;
  training.jacobian = 0.05;
  MlpFlow flow(eigenflow::test::random_mlp_dynamics(2, 0, Activation::tanh, rng), tight, 1.0, training);
  const Matrix<double> x = uniform_matrix(rng, 4, 2, -1.5, 1.5);
  Tape<double> tape;
  const auto taped = flow.forward(tape, tape.constant(x));
  const auto plain = flow.forward(x);
  CHECK((taped.points.value() - plain.points).cwiseAbs().maxCoeff() < 1e-12);
  // the same integrals by Simpson's rule over the path z(t) from the latent end
  const Index intervals = 200;
  std::vector<double> times;
  for (Index k = 0; k <= intervals; ++k) times.push_back(static_cast<double>(k) / intervals);
  const auto path = flow.path(plain.points, times);
  PlainContext<double> context;
  const auto bound = flow.dynamics().bind(context);
  TraceRequest<double> request;
  request.jacobian = true;
  ColumnVector<double> penalty = ColumnVector<double>::Zero(4);
  for (Index k = 0; k <= intervals; ++k) {
    const auto ev = flow.dynamics().evaluate(context, bound, path[static_cast<std::size_t>(k)], times[static_cast<std::size_t>(k)], nullptr, request);
    const double weight = (k == 0 || k == intervals ? 1.0 : (k % 2 ? 4.0 : 2.0)) / (3.0 * intervals);
    penalty += weight * (0.3 * ev.velocity.rowwise().squaredNorm() + 0.05 * Matrix<double>(ev.jacobian)).col(0);
  }
  CHECK((path.back() - x).cwiseAbs().maxCoeff() < 1e-9);
  const ColumnVector<double> difference = Matrix<double>(plain.log_det) - Matrix<double>(taped.log_det.value());
  INFO("penalty from the tape " << difference.transpose() << ", by quadrature " << penalty.transpose());
  CHECK((difference - penalty).cwiseAbs().maxCoeff() < 1e-8);
  CHECK(penalty.minCoeff() > 0);
}

TEST_CASE("a continuous flow's density integrates to one at the default tolerance", "[continuous]") {
  Random rng(10);
  for (int which = 0; which < 2; ++which) {
    FlowStack<double> flow(2);
    if (which == 0) flow.append(std::make_unique<HyperPlanarFlow>(HyperPlanarDynamics<double>(2, 16, 16, 0, rng)));
    else flow.append(std::make_unique<MlpFlow>(eigenflow::test::random_mlp_dynamics(2, 0, Activation::tanh, rng)));
    const auto mass = integrate_2d([&](const Matrix<double>& x) { return flow.log_prob(x); },
                                   eigenflow::test::graded_axis(9.0, 50), 3e-7);
    INFO((which == 0 ? "hyper_planar" : "mlp") << ": mass " << mass.value << ", estimated error " << mass.error_estimate);
    CHECK(mass.value == Approx(1.0).margin(3e-3));
    // and samples have the log-density log_prob gives them, to the tolerance
    const auto samples = flow.sample_and_log_prob(200, rng);
    CHECK((flow.log_prob(samples.points) - samples.log_prob).cwiseAbs().maxCoeff() < 1e-3);
  }
}

TEST_CASE("continuous flows refuse impossible settings", "[continuous]") {
  Random rng(11);
  OdeOptions bad;
  bad.atol = -1;
  CHECK_THROWS_AS(HyperPlanarFlow(HyperPlanarDynamics<double>(2, 4, 4, 0, rng), bad), ValueError);
  CHECK_THROWS_AS(HyperPlanarFlow(HyperPlanarDynamics<double>(2, 4, 4, 0, rng), {}, -1.0), ValueError);
  CnfTraining training;
  training.kinetic = -0.1;
  CHECK_THROWS_AS(HyperPlanarFlow(HyperPlanarDynamics<double>(2, 4, 4, 0, rng), {}, 1.0, training), ValueError);
  CHECK_THROWS_AS(MlpDynamics<double>(2, 8, 2, Activation::relu, 0, rng), ValueError);
  CHECK_THROWS_AS(MlpDynamics<double>(2, 8, 0, Activation::tanh, 0, rng), ValueError);
  CHECK_THROWS_AS(HyperPlanarDynamics<double>(2, 0, 4, 0, rng), ValueError);
  HyperPlanarFlow conditional(HyperPlanarDynamics<double>(2, 4, 4, 1, rng));
  CHECK_THROWS_WITH(conditional.forward(Matrix<double>::Zero(3, 2)), Catch::Contains("context"));
  CHECK_THROWS_AS(conditional.forward(Matrix<double>::Zero(3, 2), Matrix<double>::Zero(2, 1)), ShapeError);
  HyperPlanarFlow flow(HyperPlanarDynamics<double>(2, 4, 4, 0, rng));
  CHECK_THROWS_AS(flow.path(Matrix<double>::Zero(3, 2), {2.0}), ValueError);
}

TEST_CASE("the adjoint method's gradients equal backpropagation's to the solver tolerance", "[continuous]") {
  for (const OdeMethod method : {OdeMethod::dopri5, OdeMethod::rk4}) {
    for (const Index context_dim : {Index(0), Index(2)}) {
      Random rng(12);
      OdeOptions solver;
      solver.method = method;
      solver.steps = 40;
      solver.rtol = solver.atol = 1e-10;
      CnfTraining backprop, adjoint;
      adjoint.gradient = CnfGradient::adjoint;
      backprop.kinetic = adjoint.kinetic = 0.1;  // the penalty columns take the adjoint path too
      backprop.jacobian = adjoint.jacobian = 0.02;
      const auto dynamics = eigenflow::test::random_mlp_dynamics(3, context_dim, Activation::tanh, rng);
      MlpFlow by_steps(dynamics, solver, 1.0, backprop), by_adjoint(dynamics, solver, 1.0, adjoint);
      const Matrix<double> x = uniform_matrix(rng, 5, 3, -1.5, 1.5);
      const Matrix<double> c = uniform_matrix(rng, 5, context_dim, -1, 1);
      const Matrix<double> weights = uniform_matrix(rng, 5, 3);
      for (const bool inverse : {false, true}) {
        const auto gradients = [&](MlpFlow& flow) {
          zero_grad(flow.parameters());
          Tape<double> tape;
          const Var<double> points = tape.variable(x), context = tape.variable(c);
          const auto out = context_dim > 0 ? (inverse ? flow.inverse(tape, points, context) : flow.forward(tape, points, context))
                                           : (inverse ? flow.inverse(tape, points) : flow.forward(tape, points));
          tape.backward(add(mean(mask_multiply(out.points, weights)), mean(out.log_det)));
          std::vector<Matrix<double>> all{points.adjoint(), context.adjoint()};
          for (const auto* parameter : flow.parameters()) all.push_back(parameter->grad);
          return all;
        };
        const auto expected = gradients(by_steps), found = gradients(by_adjoint);
        double worst = 0, largest = 0;
        for (std::size_t k = 0; k < expected.size(); ++k) {
          if (expected[k].size() == 0) continue;
          worst = std::max(worst, (expected[k] - found[k]).cwiseAbs().maxCoeff());
          largest = std::max(largest, expected[k].cwiseAbs().maxCoeff());
        }
        INFO(to_string(method) << " context " << context_dim << (inverse ? " inverse" : " forward") << ": worst difference "
                               << worst << " of gradients up to " << largest);
        CHECK(largest > 1e-3);
        CHECK(worst < (method == OdeMethod::rk4 ? 1e-6 : 1e-7));
      }
    }
  }
}

TEST_CASE("the adjoint method's gradients match finite differences", "[continuous]") {
  Random rng(13);
  OdeOptions solver;
  solver.rtol = solver.atol = 1e-11;
  CnfTraining adjoint;
  adjoint.gradient = CnfGradient::adjoint;
  FlowStack<double> flow(2);
  flow.append(std::make_unique<HyperPlanarFlow>(HyperPlanarDynamics<double>(2, 4, 5, 0, rng), solver, 1.0, adjoint));
  const Matrix<double> x = uniform_matrix(rng, 6, 2, -2, 2);
  const auto result = check_parameter_gradients([&](Tape<double>& tape) { return mean(flow.log_prob(tape, tape.constant(x))); },
                                                flow.parameters());
  INFO(result.worst);
  CHECK(result.passed);
}
