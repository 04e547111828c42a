// LeakyReLU flow layer (seed 000), elementwise with a learnable slope a > 0:
//   forward  z = x            if x >= 0,   a·x   otherwise
//   inverse  x = z            if z >= 0,   z / a otherwise
//   log|det ∂z/∂x| = (number of negative entries in the row) · log a
// a is stored as log a, so it stays positive under any gradient step.
#pragma once

#include <cmath>
#include <string>

#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

template <class S>
class LeakyReLU : public LayerBase<LeakyReLU<S>, S> {
 public:
  LeakyReLU(Index dim, S negative_slope = S(0.5)) : dim_(dim) {
    detail::require_positive_dim("LeakyReLU", dim);
    if (!(negative_slope > S(0)) || !std::isfinite(negative_slope))
      throw ValueError("LeakyReLU: negative_slope must be positive and finite, found " +
                       std::to_string(static_cast<double>(negative_slope)));
    log_slope_ = Parameter<S>("leaky_relu.log_negative_slope", Matrix<S>::Constant(1, 1, std::log(negative_slope)));
  }

  Index dim() const override { return dim_; }
  std::string type() const override { return "leaky_relu"; }
  S negative_slope() const { return std::exp(log_slope_.value(0, 0)); }
  ParameterList<S> parameters() override { return {&log_slope_}; }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    return map(context, x, S(1));
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    return map(context, z, S(-1));
  }

 private:
  // y = relu(v) + a^sign·(v − relu(v)); log-det = sign · (#negative entries) · log a.
  template <class C>
  std::pair<typename C::Value, typename C::Value> map(C& context, const typename C::Value& v, S sign) const {
    const auto log_slope = scale(context.param(log_slope_), sign);
    const auto positive_part = relu(v);
    auto y = add(positive_part, mul(sub(v, positive_part), exp(log_slope)));
    auto log_det = mul(row_sums(is_negative(v)), log_slope);
    return {std::move(y), std::move(log_det)};
  }

  Index dim_;
  Parameter<S> log_slope_;
};

}  // namespace eigenflow
