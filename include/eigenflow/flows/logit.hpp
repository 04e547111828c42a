// Logit: data bounded in a box [lo, hi] mapped onto R^D, with RealNVP's
// shrink α (Dinh et al. 2017, section 4.1) so that the bounds themselves map
// to finite points:
//   forward  y = α + (1 − 2α)·(x − lo)/(hi − lo) ∈ [α, 1 − α],   z = log y − log(1 − y)
//   inverse  x = lo + (hi − lo)·(σ(z) − α)/(1 − 2α)
//   log|det ∂z/∂x| = Σ_j [log((1 − 2α)/(hi_j − lo_j)) − log y_j − log(1 − y_j)]
//                  = Σ_j [log((1 − 2α)/(hi_j − lo_j)) + softplus(z_j) + softplus(−z_j)]
// The support is the open box where 0 < y < 1: [lo, hi] widened by
// m = α·(hi − lo)/(1 − 2α) on each side (RealNVP's convention), so samples may
// fall up to m outside [lo, hi]. A point outside the support has no density;
// forward refuses it (naming the row and column) rather than returning a NaN.
// y and 1 − y are both computed from x directly, so neither loses digits by
// cancellation near its bound. Not trainable.
#pragma once

#include <cmath>
#include <string>
#include <utility>

#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

template <class S>
class Logit : public LayerBase<Logit<S>, S> {
 public:
  /// Per-column bounds lo < hi and the shrink α ∈ [0, ½); with α = 0 the bounds themselves are excluded.
  Logit(const RowVector<S>& lo, const RowVector<S>& hi, S alpha) : lo_(lo), hi_(hi), alpha_(alpha) {
    detail::require_positive_dim("Logit", lo.cols());
    if (hi.cols() != lo.cols())
      throw ShapeError("Logit: lo has " + std::to_string(lo.cols()) + " entries, hi " + std::to_string(hi.cols()));
    if (!(alpha >= S(0) && alpha < S(0.5)))
      throw ValueError("Logit: alpha must be in [0, 0.5), found " + std::to_string(static_cast<double>(alpha)));
    for (Index j = 0; j < lo.cols(); ++j)
      if (!std::isfinite(lo(j)) || !std::isfinite(hi(j)) || !(lo(j) < hi(j)) || !std::isfinite(hi(j) - lo(j)))
        throw ValueError("Logit: column " + std::to_string(j) + " needs finite bounds lo < hi, found [" +
                         std::to_string(static_cast<double>(lo(j))) + ", " + std::to_string(static_cast<double>(hi(j))) + "]");
    slope_ = ((S(1) - S(2) * alpha) / (hi.array() - lo.array())).matrix();
    offset_ = (alpha - lo.array() * slope_.array()).matrix();
    log_det_ = slope_.array().log().sum();
  }

  Index dim() const override { return lo_.cols(); }
  std::string type() const override { return "logit"; }
  ParameterList<S> parameters() override { return {}; }
  const RowVector<S>& lo() const { return lo_; }
  const RowVector<S>& hi() const { return hi_; }
  S alpha() const { return alpha_; }

  /// Refuses points outside the support (0 < y < 1); `where` names the caller.
  void require_in_support(const char* where, const Matrix<S>& x) const {
    detail::require_columns(where, x, dim());
    for (Index i = 0; i < x.rows(); ++i)
      for (Index j = 0; j < x.cols(); ++j) {
        const S y = x(i, j) * slope_(j) + offset_(j);
        if (!(y > S(0) && y < S(1)))
          throw ValueError(std::string(where) + ": row " + std::to_string(i) + ", column " + std::to_string(j) + " is " +
                           std::to_string(static_cast<double>(x(i, j))) + ", outside the bounds [" +
                           std::to_string(static_cast<double>(lo_(j))) + ", " + std::to_string(static_cast<double>(hi_(j))) +
                           "] (widened by alpha)");
      }
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    require_in_support("Logit.forward", value_of(x));
    const auto y = add(mask_multiply(x, slope_), context.constant(offset_));
    const auto one_minus_y = add(mask_multiply(x, RowVector<S>(-slope_)), context.constant(RowVector<S>(RowVector<S>::Ones(dim()) - offset_)));
    auto z = sub(log(y), log(one_minus_y));
    return {z, add_scalar(row_sums(add(softplus(z), softplus(scale(z, S(-1))))), log_det_)};
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    auto x = mask_multiply(add(sigmoid(z), context.constant(RowVector<S>(-offset_))), RowVector<S>(slope_.cwiseInverse()));
    return {std::move(x), scale(add_scalar(row_sums(add(softplus(z), softplus(scale(z, S(-1))))), log_det_), S(-1))};
  }

 private:
  RowVector<S> lo_, hi_;
  S alpha_;
  RowVector<S> slope_, offset_;  ///< y = x·slope + offset
  S log_det_;                    ///< Σ_j log slope_j
};

}  // namespace eigenflow
