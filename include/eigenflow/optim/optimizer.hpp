// The interface every optimizer offers. An optimizer sees only parameters
// and their gradients; its per-parameter state is kept by position in the
// parameter list it was given (never by address, which moves when a matrix
// is reallocated).
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "eigenflow/autodiff/parameter.hpp"
#include "eigenflow/core/error.hpp"

namespace eigenflow {

template <class S>
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  /// One update from the gradients currently in each parameter's grad.
  virtual void step() = 0;
  virtual std::string name() const = 0;

  void zero_grad() { eigenflow::zero_grad(parameters_); }
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate) {
    check_positive("learning rate", learning_rate);
    learning_rate_ = learning_rate;
  }
  long long steps_taken() const { return steps_; }

  /// The optimizer's internal state (moment estimates, momentum buffers),
  /// for checkpoints; restoring it with the same step count continues the
  /// run bit-identically.
  virtual std::vector<Matrix<S>> state() const = 0;
  void set_state(long long steps, const std::vector<Matrix<S>>& state) {
    const std::vector<Matrix<S>> current = this->state();
    if (state.size() != current.size())
      throw ValueError(name() + ": expected " + std::to_string(current.size()) + " state matrices, found " + std::to_string(state.size()));
    for (std::size_t i = 0; i < state.size(); ++i)
      if (state[i].rows() != current[i].rows() || state[i].cols() != current[i].cols())
        throw ShapeError(name() + ": state matrix " + std::to_string(i) + " should be " +
                         detail::shape_string(current[i].rows(), current[i].cols()) + ", found " +
                         detail::shape_string(state[i].rows(), state[i].cols()));
    if (steps < 0) throw ValueError(name() + ": step count must be non-negative");
    steps_ = steps;
    restore_state(state);
  }
  const ParameterList<S>& parameters() const { return parameters_; }

 protected:
  virtual void restore_state(const std::vector<Matrix<S>>& state) = 0;

  Optimizer(ParameterList<S> parameters, double learning_rate) : parameters_(std::move(parameters)) {
    set_learning_rate(learning_rate);
    for (auto* p : parameters_)
      if (p == nullptr) throw ValueError("optimizer: null parameter");
  }

  static void check_positive(const char* what, double value) {
    if (!(value > 0) || !std::isfinite(value))
      throw ValueError(std::string("optimizer: ") + what + " must be positive and finite, found " + std::to_string(value));
  }
  static void check_range(const char* what, double value, double low, double high) {
    if (!(value >= low && value < high))
      throw ValueError(std::string("optimizer: ") + what + " must be in [" + std::to_string(low) + ", " +
                       std::to_string(high) + "), found " + std::to_string(value));
  }
  /// Zero matrices shaped like each parameter, indexed like parameters().
  std::vector<Matrix<S>> zeros_like_parameters() const {
    std::vector<Matrix<S>> state;
    for (const auto* p : parameters_) state.push_back(Matrix<S>::Zero(p->value.rows(), p->value.cols()));
    return state;
  }

  ParameterList<S> parameters_;
  double learning_rate_ = 0;
  long long steps_ = 0;
};

}  // namespace eigenflow
