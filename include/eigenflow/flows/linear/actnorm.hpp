// ActNorm (Kingma & Dhariwal 2018, "Glow", section 3.1): a per-dimension
// affine map with a data-dependent initialisation.
//   forward  z_j = (x_j − b_j)·exp(−s_j)     log|det ∂z/∂x| = −Σ_j s_j
//   inverse  x_j = z_j·exp(s_j) + b_j        log|det ∂x/∂z| = +Σ_j s_j
// initialize(batch) sets b = the batch mean and s = log of its standard
// deviation per dimension, so the layer's first outputs have zero mean and
// unit variance; it acts once: `initialized` is part of the layer's state
// (and of its model-file entry), so a loaded model is never initialised again.
#pragma once

#include <cmath>
#include <string>

#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

template <class S>
class ActNorm : public LayerBase<ActNorm<S>, S> {
 public:
  /// The identity (b = 0, s = 0), waiting for initialize().
  explicit ActNorm(Index dim) : ActNorm(RowVector<S>::Zero(dim), RowVector<S>::Zero(dim), false) {}

  ActNorm(const RowVector<S>& bias, const RowVector<S>& log_scale, bool initialized) : initialized_(initialized) {
    detail::require_positive_dim("ActNorm", bias.cols());
    if (log_scale.cols() != bias.cols())
      throw ShapeError("ActNorm: log_scale has " + std::to_string(log_scale.cols()) + " entries, bias " +
                       std::to_string(bias.cols()));
    if (!bias.allFinite() || !log_scale.allFinite()) throw ValueError("ActNorm: bias and log_scale must be finite");
    bias_ = Parameter<S>("actnorm.bias", bias);
    log_scale_ = Parameter<S>("actnorm.log_scale", log_scale);
  }

  Index dim() const override { return bias_.value.cols(); }
  std::string type() const override { return "actnorm"; }
  bool initialized() const { return initialized_; }
  const Matrix<S>& bias() const { return bias_.value; }
  const Matrix<S>& log_scale() const { return log_scale_.value; }
  ParameterList<S> parameters() override { return {&bias_, &log_scale_}; }

  /// b = mean, s = log sd of each column of `inputs`, unless already initialised.
  /// A column with (near) zero spread keeps s = 0 rather than dividing by it.
  void initialize(const Matrix<S>& inputs) override {
    if (initialized_ || inputs.rows() == 0) return;
    detail::require_columns("actnorm.initialize", inputs, dim());
    detail::require_finite("actnorm.initialize", inputs);
    const RowVector<S> mean = inputs.colwise().mean();
    for (Index j = 0; j < dim(); ++j) {
      const S variance = (inputs.col(j).array() - mean(j)).square().mean();
      bias_.value(0, j) = mean(j);
      log_scale_.value(0, j) = variance > S(1e-12) ? S(0.5) * std::log(variance) : S(0);
    }
    initialized_ = true;
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    const auto log_scale = context.param(log_scale_);
    auto z = mul(sub(x, context.param(bias_)), exp(scale(log_scale, S(-1))));
    return {std::move(z), add(detail::zero_log_det(context, x), scale(sum(log_scale), S(-1)))};
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    const auto log_scale = context.param(log_scale_);
    auto x = add(mul(z, exp(log_scale)), context.param(bias_));
    return {std::move(x), add(detail::zero_log_det(context, z), sum(log_scale))};
  }

 private:
  Parameter<S> bias_;
  Parameter<S> log_scale_;
  bool initialized_;
};

}  // namespace eigenflow
