// Optimizers replay a fixed gradient sequence and must land on the values
// worked out independently from the published update rules (PyTorch's
// AdamW/Adam/SGD documentation), in long double, to 1e-12.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <vector>

using namespace eigenflow;

namespace {

const std::vector<std::vector<double>> kGradients = {{0.5, -1.0, 2.0}, {-0.3, 0.8, 1.5}, {0.1, 0.1, -2.0}, {1.2, -0.4, 0.0}};
const std::vector<double> kStart = {1.0, -2.0, 0.25};

Parameter<double> make_parameter() {
  Matrix<double> value(1, 3);
  value << kStart[0], kStart[1], kStart[2];
  return Parameter<double>("p", value);
}

template <class Opt>
Matrix<double> replay(Opt& optimizer, Parameter<double>& p) {
  for (const auto& g : kGradients) {
    for (Index j = 0; j < 3; ++j) p.grad(0, j) = g[static_cast<std::size_t>(j)];
    optimizer.step();
  }
  return p.value;
}

/// Adam / AdamW by the book, one coordinate at a time, in long double.
long double adam_by_hand(std::size_t j, double lr, double b1, double b2, double eps, double wd, bool decoupled, bool amsgrad) {
  long double theta = kStart[j], m = 0, v = 0, v_max = 0;
  for (std::size_t t = 1; t <= kGradients.size(); ++t) {
    long double g = kGradients[t - 1][j];
    if (decoupled) theta -= lr * wd * theta;
    else g += wd * theta;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    v_max = std::max(v_max, v);
    const long double m_hat = m / (1 - std::pow(static_cast<long double>(b1), static_cast<long double>(t)));
    const long double v_hat = (amsgrad ? v_max : v) / (1 - std::pow(static_cast<long double>(b2), static_cast<long double>(t)));
    theta -= lr * m_hat / (std::sqrt(v_hat) + eps);
  }
  return theta;
}

}  // namespace

TEST_CASE("AdamW matches the published update rule", "[optim]") {
  const bool amsgrad = GENERATE(false, true);
  auto p = make_parameter();
  AdamOptions options;
  options.learning_rate = 0.1;
  options.weight_decay = 0.05;
  options.amsgrad = amsgrad;
  AdamW<double> optimizer({&p}, options);
  const Matrix<double> result = replay(optimizer, p);
  for (std::size_t j = 0; j < 3; ++j)
    CHECK(std::abs(result(0, static_cast<Index>(j)) -
                   static_cast<double>(adam_by_hand(j, 0.1, 0.9, 0.999, 1e-8, 0.05, true, amsgrad))) <= 1e-12);
  CHECK(optimizer.steps_taken() == 4);
}

TEST_CASE("Adam (L2 weight decay) matches the published update rule", "[optim]") {
  auto p = make_parameter();
  AdamOptions options;
  options.learning_rate = 0.05;
  options.beta1 = 0.8;
  options.beta2 = 0.99;
  options.weight_decay = 0.1;
  Adam<double> optimizer({&p}, options);
  const Matrix<double> result = replay(optimizer, p);
  for (std::size_t j = 0; j < 3; ++j)
    CHECK(std::abs(result(0, static_cast<Index>(j)) - static_cast<double>(adam_by_hand(j, 0.05, 0.8, 0.99, 1e-8, 0.1, false, false))) <= 1e-12);
}

TEST_CASE("SGD with momentum and Nesterov matches the published update rule", "[optim]") {
  const bool nesterov = GENERATE(false, true);
  auto p = make_parameter();
  SgdOptions options;
  options.learning_rate = 0.1;
  options.momentum = 0.9;
  options.weight_decay = 0.01;
  options.nesterov = nesterov;
  Sgd<double> optimizer({&p}, options);
  const Matrix<double> result = replay(optimizer, p);
  for (std::size_t j = 0; j < 3; ++j) {
    long double theta = kStart[j], buffer = 0;
    for (std::size_t t = 0; t < kGradients.size(); ++t) {
      long double g = kGradients[t][j] + 0.01L * theta;
      buffer = t == 0 ? g : 0.9L * buffer + g;
      theta -= 0.1L * (nesterov ? g + 0.9L * buffer : buffer);
    }
    CHECK(std::abs(result(0, static_cast<Index>(j)) - static_cast<double>(theta)) <= 1e-12);
  }
}

TEST_CASE("optimizers reject impossible hyper-parameters", "[optim]") {
  auto p = make_parameter();
  AdamOptions bad;
  bad.learning_rate = -1;
  CHECK_THROWS_AS(AdamW<double>({&p}, bad), ValueError);
  bad.learning_rate = std::nan("");
  CHECK_THROWS_WITH(AdamW<double>({&p}, bad), Catch::Contains("learning rate"));
  AdamOptions beta;
  beta.beta1 = 1.0;
  CHECK_THROWS_WITH(Adam<double>({&p}, beta), Catch::Contains("beta1"));
  SgdOptions momentum;
  momentum.momentum = -0.5;
  CHECK_THROWS_AS(Sgd<double>({&p}, momentum), ValueError);
}

TEST_CASE("schedules and clipping follow their formulas", "[optim]") {
  const auto cosine = LearningRateSchedule::cosine(1.0, 100, 0.1);
  CHECK(cosine.at(0) == Approx(1.0));
  CHECK(cosine.at(50) == Approx(0.55));
  CHECK(cosine.at(100) == Approx(0.1));
  CHECK(cosine.at(1000) == Approx(0.1));
  const auto step = LearningRateSchedule::step(1.0, 10, 0.5);
  CHECK(step.at(9) == 1.0);
  CHECK(step.at(10) == 0.5);
  CHECK(step.at(25) == 0.25);
  CHECK(LearningRateSchedule::constant(0.3).at(12345) == 0.3);
  CHECK_THROWS_AS(LearningRateSchedule::cosine(1.0, 0), ValueError);

  Parameter<double> a("a", Matrix<double>::Zero(1, 2)), b("b", Matrix<double>::Zero(1, 1));
  a.grad << 3, 0;
  b.grad << 4;
  const double norm = clip_grad_norm<double>({&a, &b}, 1.0);
  CHECK(norm == Approx(5.0));
  CHECK(a.grad(0, 0) == Approx(3.0 / (5.0 + 1e-6)));
  CHECK(b.grad(0, 0) == Approx(4.0 / (5.0 + 1e-6)));
  a.grad << 0.1, 0;
  CHECK(clip_grad_norm<double>({&a}, 1.0) == Approx(0.1));
  CHECK(a.grad(0, 0) == 0.1);  // below the bound: untouched
}
