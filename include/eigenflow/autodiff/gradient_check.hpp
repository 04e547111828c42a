// Gradient checker: compares the tape's gradient of a scalar loss with
// central finite differences, g_i ≈ (L(θ + h e_i) − L(θ − h e_i)) / 2h,
// and returns pass/fail with the worst entry (it never just prints).
//
// Error measure per entry: |g_tape − g_fd| / max(1, |g_tape|, |g_fd|), i.e.
// relative for large gradients and absolute for small ones.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/autodiff/tape.hpp"

namespace eigenflow {

struct GradientCheckOptions {
  double step = 1e-5;        ///< h, scaled by max(1, |θ_i|)
  double tolerance = 1e-6;   ///< largest accepted error
};

struct GradientCheckResult {
  bool passed = false;
  double max_error = 0.0;
  std::string worst;  ///< which parameter entry gave max_error, with both values

  explicit operator bool() const { return passed; }
};

/// Checks d loss / d θ for every entry of every parameter. `loss` builds the
/// graph on the tape it is given and returns a 1x1 Var.
inline GradientCheckResult check_parameter_gradients(
    const std::function<Var<double>(Tape<double>&)>& loss, const ParameterList<double>& parameters,
    GradientCheckOptions options = {}) {
  Tape<double> tape;
  zero_grad(parameters);
  tape.backward(loss(tape));

  auto evaluate = [&] {
    tape.clear();
    return loss(tape).value()(0, 0);
  };

  GradientCheckResult result;
  result.passed = true;
  for (auto* parameter : parameters) {
    for (Index k = 0; k < parameter->value.size(); ++k) {
      double& entry = parameter->value.data()[k];
      const double saved = entry;
      const double h = options.step * std::max(1.0, std::abs(saved));
      entry = saved + h;
      const double above = evaluate();
      entry = saved - h;
      const double below = evaluate();
      entry = saved;
      const double numeric = (above - below) / (2 * h);
      const double analytic = parameter->grad.data()[k];
      const double error =
          std::abs(analytic - numeric) / std::max({1.0, std::abs(analytic), std::abs(numeric)});
      if (!(error <= result.max_error)) {  // written so that a NaN error counts as the worst
        result.max_error = std::isnan(error) ? std::numeric_limits<double>::infinity() : error;
        std::ostringstream where;
        where << parameter->name << "[" << k << "]: tape " << analytic << ", finite difference " << numeric;
        result.worst = where.str();
      }
      if (!(error <= options.tolerance)) result.passed = false;
    }
  }
  return result;
}

/// Checks the gradient of loss(inputs) with respect to plain input matrices.
inline GradientCheckResult check_gradient(
    const std::function<Var<double>(Tape<double>&, const std::vector<Var<double>>&)>& loss,
    const std::vector<Matrix<double>>& inputs, GradientCheckOptions options = {}) {
  std::vector<Parameter<double>> parameters;
  parameters.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i)
    parameters.emplace_back("input" + std::to_string(i), inputs[i]);
  ParameterList<double> list;
  for (auto& parameter : parameters) list.push_back(&parameter);
  return check_parameter_gradients(
      [&](Tape<double>& tape) {
        std::vector<Var<double>> vars;
        vars.reserve(parameters.size());
        for (auto& parameter : parameters) vars.push_back(tape.parameter(parameter));
        return loss(tape, vars);
      },
      list, options);
}

}  // namespace eigenflow
