// Adam and AdamW, with the update rules of torch.optim.Adam / AdamW:
//   AdamW (decoupled decay):  θ ← θ·(1 − lr·λ)
//   Adam  (L2 penalty):       g ← g + λ·θ
//   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²,   (amsgrad: v̂max ← max(v̂max, v))
//   θ ← θ − lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε)
// t is an integer step count; ε sits outside the square root.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "eigenflow/optim/optimizer.hpp"

namespace eigenflow {

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.0;  ///< decoupled for AdamW, an L2 term for Adam
  bool amsgrad = false;
};

template <class S>
class Adam : public Optimizer<S> {
 public:
  Adam(ParameterList<S> parameters, AdamOptions options = {}) : Adam(std::move(parameters), options, false) {}

  std::string name() const override { return decoupled_ ? "adamw" : "adam"; }
  const AdamOptions& options() const { return options_; }
  /// Moment estimates, indexed like parameters() (for checkpoints and tests).
  const std::vector<Matrix<S>>& first_moments() const { return first_; }
  const std::vector<Matrix<S>>& second_moments() const { return second_; }

  std::vector<Matrix<S>> state() const override {
    std::vector<Matrix<S>> all = first_;
    all.insert(all.end(), second_.begin(), second_.end());
    all.insert(all.end(), max_second_.begin(), max_second_.end());
    return all;
  }

  void step() override {
    ++this->steps_;
    const double t = static_cast<double>(this->steps_);
    const double bias1 = 1.0 - std::pow(options_.beta1, t);
    const double bias2 = 1.0 - std::pow(options_.beta2, t);
    const S lr = static_cast<S>(this->learning_rate_);
    const S beta1 = static_cast<S>(options_.beta1), beta2 = static_cast<S>(options_.beta2);
    const S decay = static_cast<S>(options_.weight_decay);
    const S step_size = static_cast<S>(this->learning_rate_ / bias1);
    const S sqrt_bias2 = static_cast<S>(std::sqrt(bias2));
    const S epsilon = static_cast<S>(options_.epsilon);
    for (std::size_t i = 0; i < this->parameters_.size(); ++i) {
      Parameter<S>& p = *this->parameters_[i];
      auto gradient = p.grad.array();
      if (decoupled_) {
        if (decay != S(0)) p.value *= (S(1) - lr * decay);
        first_[i].array() = beta1 * first_[i].array() + (S(1) - beta1) * gradient;
        second_[i].array() = beta2 * second_[i].array() + (S(1) - beta2) * gradient.square();
      } else {
        const auto g = gradient + decay * p.value.array();
        first_[i].array() = beta1 * first_[i].array() + (S(1) - beta1) * g;
        second_[i].array() = beta2 * second_[i].array() + (S(1) - beta2) * g.square();
      }
      const Matrix<S>* second = &second_[i];
      if (options_.amsgrad) {
        max_second_[i] = max_second_[i].cwiseMax(second_[i]);
        second = &max_second_[i];
      }
      p.value.array() -= step_size * first_[i].array() / (second->array().sqrt() / sqrt_bias2 + epsilon);
    }
  }

 protected:
  void restore_state(const std::vector<Matrix<S>>& state) override {
    const std::size_t n = first_.size();
    for (std::size_t i = 0; i < n; ++i) {
      first_[i] = state[i];
      second_[i] = state[n + i];
      if (options_.amsgrad) max_second_[i] = state[2 * n + i];
    }
  }

  Adam(ParameterList<S> parameters, AdamOptions options, bool decoupled)
      : Optimizer<S>(std::move(parameters), options.learning_rate), options_(options), decoupled_(decoupled) {
    this->check_range("beta1", options.beta1, 0.0, 1.0);
    this->check_range("beta2", options.beta2, 0.0, 1.0);
    this->check_positive("epsilon", options.epsilon);
    if (!(options.weight_decay >= 0) || !std::isfinite(options.weight_decay))
      throw ValueError("optimizer: weight decay must be non-negative and finite, found " +
                       std::to_string(options.weight_decay));
    first_ = this->zeros_like_parameters();
    second_ = this->zeros_like_parameters();
    if (options.amsgrad) max_second_ = this->zeros_like_parameters();
  }

 private:
  AdamOptions options_;
  bool decoupled_;
  std::vector<Matrix<S>> first_, second_, max_second_;
};

/// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter), default λ = 0.01 as in PyTorch.
template <class S>
class AdamW : public Adam<S> {
 public:
  AdamW(ParameterList<S> parameters, AdamOptions options = with_default_decay())
      : Adam<S>(std::move(parameters), options, true) {}
  static AdamOptions with_default_decay() {
    AdamOptions options;
    options.weight_decay = 0.01;
    return options;
  }
};

}  // namespace eigenflow
