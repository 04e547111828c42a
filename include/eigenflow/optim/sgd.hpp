// Stochastic gradient descent with momentum, as torch.optim.SGD:
//   g ← g + λ·θ;   b ← g (first step), b ← μ·b + (1 − τ)·g after;
//   θ ← θ − lr·(nesterov ? g + μ·b : b)
#pragma once

#include <string>
#include <vector>

#include "eigenflow/optim/optimizer.hpp"

namespace eigenflow {

struct SgdOptions {
  double learning_rate = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

template <class S>
class Sgd : public Optimizer<S> {
 public:
  Sgd(ParameterList<S> parameters, SgdOptions options = {})
      : Optimizer<S>(std::move(parameters), options.learning_rate), options_(options) {
    this->check_range("momentum", options.momentum, 0.0, 1.0);
    this->check_range("dampening", options.dampening, 0.0, 1.0 + 1e-300);
    if (!(options.weight_decay >= 0)) throw ValueError("optimizer: weight decay must be non-negative");
    if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
      throw ValueError("optimizer: Nesterov momentum needs momentum > 0 and dampening = 0");
    buffers_ = this->zeros_like_parameters();
  }

  std::string name() const override { return "sgd"; }
  std::vector<Matrix<S>> state() const override { return buffers_; }

  void step() override {
    const S lr = static_cast<S>(this->learning_rate_);
    const S momentum = static_cast<S>(options_.momentum);
    const S decay = static_cast<S>(options_.weight_decay);
    const S damp = static_cast<S>(options_.dampening);
    for (std::size_t i = 0; i < this->parameters_.size(); ++i) {
      Parameter<S>& p = *this->parameters_[i];
      Matrix<S> g = p.grad + decay * p.value;
      if (momentum != S(0)) {
        if (this->steps_ == 0) buffers_[i] = g;
        else buffers_[i] = momentum * buffers_[i] + (S(1) - damp) * g;
        if (options_.nesterov) g += momentum * buffers_[i];
        else g = buffers_[i];
      }
      p.value -= lr * g;
    }
    ++this->steps_;
  }

 protected:
  void restore_state(const std::vector<Matrix<S>>& state) override { buffers_ = state; }

 private:
  SgdOptions options_;
  std::vector<Matrix<S>> buffers_;
};

}  // namespace eigenflow
