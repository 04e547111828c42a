// Fit a tiny MLP to y = sin(3x) with the tape and hand-rolled gradient
// descent: the reverse-mode engine every flow in eigenflow trains with.
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <cstdio>

int main() {
  using namespace eigenflow;
  Random rng(0);

  // 128 points of the target function on [-1, 1].
  Matrix<double> x(128, 1), y(128, 1);
  for (Index i = 0; i < x.rows(); ++i) {
    x(i, 0) = -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(x.rows() - 1);
    y(i, 0) = std::sin(3.0 * x(i, 0));
  }

  Mlp<double> net({/*inputs*/ 1, /*hidden*/ 32, /*depth*/ 2, /*outputs*/ 1, Activation::tanh}, rng);
  const auto parameters = net.parameters();
  Tape<double> tape;  // reused every step: clear() keeps its memory
  const double learning_rate = 0.1;

  for (int step = 0; step <= 3000; ++step) {
    tape.clear();
    zero_grad(parameters);
    TapeContext<double> context{tape};
    auto prediction = net.apply(context, tape.constant(x));
    auto loss = mean(square(prediction - tape.constant(y)));  // mean squared error
    tape.backward(loss);
    for (auto* p : parameters) p->value -= learning_rate * p->grad;  // plain gradient descent
    if (step % 500 == 0) std::printf("step %4d  mse %.6f\n", step, loss.value()(0, 0));
  }
  std::printf("tape: %zu nodes, %zu bytes, reused across all steps\n", tape.size(), tape.bytes());
  return 0;
}
