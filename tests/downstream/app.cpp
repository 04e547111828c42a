// Uses the umbrella header and checks one gradient, so a broken package
// (missing header, missing dependency) fails to build or to run.
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <iostream>

int main() {
  eigenflow::Tape<double> tape;
  eigenflow::Matrix<double> data(1, 1);
  data << 0.5;
  auto x = tape.variable(data);
  auto loss = eigenflow::sum(eigenflow::tanh(x));
  tape.backward(loss);
  const double expected = 1.0 - std::tanh(0.5) * std::tanh(0.5);
  const double got = x.adjoint()(0, 0);
  std::cout << "d tanh(0.5) = " << got << "\n";
  return std::abs(got - expected) < 1e-15 ? 0 : 1;
}
