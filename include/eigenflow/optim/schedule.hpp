// Learning-rate schedules, as functions of the step (or epoch) count k:
//   constant:  lr_k = lr
//   cosine:    lr_k = lr_min + (lr − lr_min)·(1 + cos(π·min(k, K)/K))/2
//   step:      lr_k = lr·γ^⌊k / s⌋
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "eigenflow/core/error.hpp"

namespace eigenflow {

class LearningRateSchedule {
 public:
  static LearningRateSchedule constant(double learning_rate) { return {Kind::constant, learning_rate, 0, 0, 0}; }
  static LearningRateSchedule cosine(double learning_rate, long long total_steps, double minimum = 0.0) {
    if (total_steps <= 0) throw ValueError("cosine schedule: total steps must be positive, found " + std::to_string(total_steps));
    return {Kind::cosine, learning_rate, total_steps, minimum, 0};
  }
  static LearningRateSchedule step(double learning_rate, long long step_size, double gamma) {
    if (step_size <= 0) throw ValueError("step schedule: step size must be positive, found " + std::to_string(step_size));
    if (!(gamma > 0)) throw ValueError("step schedule: gamma must be positive");
    return {Kind::step, learning_rate, step_size, 0, gamma};
  }

  double at(long long k) const {
    switch (kind_) {
      case Kind::constant: return base_;
      case Kind::cosine: {
        const double progress = static_cast<double>(std::min(k, period_)) / static_cast<double>(period_);
        return minimum_ + (base_ - minimum_) * 0.5 * (1.0 + std::cos(M_PI * progress));
      }
      case Kind::step: return base_ * std::pow(gamma_, static_cast<double>(k / period_));
    }
    return base_;
  }

 private:
  enum class Kind { constant, cosine, step };
  LearningRateSchedule(Kind kind, double base, long long period, double minimum, double gamma)
      : kind_(kind), base_(base), period_(period), minimum_(minimum), gamma_(gamma) {
    if (!(base > 0) || !std::isfinite(base))
      throw ValueError("learning rate must be positive and finite, found " + std::to_string(base));
  }
  Kind kind_;
  double base_;
  long long period_;
  double minimum_;
  double gamma_;
};

}  // namespace eigenflow
