// Fixed per-coordinate standardisation, kept inside a model so that its
// densities and samples are in the user's raw coordinates:
//   forward  x' = (x − shift) / scale,   inverse  x = x'·scale + shift
//   log|det ∂x'/∂x| = −Σ_j log scale_j
// Not trainable: it is fitted to the training data once.
#pragma once

#include <cmath>
#include <string>
#include <utility>

#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

template <class S>
class Standardize : public LayerBase<Standardize<S>, S> {
 public:
  Standardize(const RowVector<S>& shift, const RowVector<S>& scale) : shift_(shift), scale_(scale) {
    detail::require_positive_dim("Standardize", shift.cols());
    if (scale.cols() != shift.cols())
      throw ShapeError("Standardize: shift and scale must have the same size, found " + std::to_string(shift.cols()) +
                       " and " + std::to_string(scale.cols()));
    detail::require_finite("Standardize (shift)", shift);
    for (Index j = 0; j < scale.cols(); ++j)
      if (!(scale(j) > S(0)) || !std::isfinite(scale(j)))
        throw ValueError("Standardize: scale must be positive and finite, found " +
                         std::to_string(static_cast<double>(scale(j))) + " at index " + std::to_string(j));
    inverse_scale_ = scale_.cwiseInverse();
    log_det_ = -scale_.array().log().sum();
  }

  Index dim() const override { return shift_.cols(); }
  std::string type() const override { return "standardize"; }
  ParameterList<S> parameters() override { return {}; }
  const RowVector<S>& shift() const { return shift_; }
  const RowVector<S>& scale() const { return scale_; }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    auto z = mask_multiply(add(x, context.constant(-shift_)), inverse_scale_);
    return {std::move(z), constant_log_det(context, x, log_det_)};
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    auto x = add(mask_multiply(z, scale_), context.constant(shift_));
    return {std::move(x), constant_log_det(context, z, -log_det_)};
  }

 private:
  template <class C>
  static typename C::Value constant_log_det(C& context, const typename C::Value& v, S value) {
    return context.constant(Matrix<S>::Constant(value_of(v).rows(), 1, value));
  }

  RowVector<S> shift_, scale_, inverse_scale_;
  S log_det_;
};

}  // namespace eigenflow
