// Radial flow (Rezende & Mohamed 2015; seed 002), around a centre z0:
//   r = ‖x − z0‖,  h = 1/(α + r)
//   forward  z = x + β·h·(x − z0)
//   log|det ∂z/∂x| = (D−1)·log(1 + βh) + log(1 + βh + βh′r) = (D−1)·log1p(β/(α+r)) + log1p(βα/(α+r)²)
// r comes from row_norms, whose gradient at x = z0 is the subgradient 0 (not NaN).
// Constraints: α = softplus(α_raw) > 0 and β = −α + softplus(β_raw) > −α,
// which keep both log arguments positive and the map invertible.
//
// Inverse: z − z0 = (x − z0)(1 + β/(α + r)), so ρ = ‖z − z0‖ fixes r through
// r² + (α + β − ρ)·r − ρα = 0, solved in closed form (the cancellation-free
// root), then x = z0 + (z − z0)·(α + r)/(α + r + β). On a tape, r enters
// through one recorded Newton step (as in planar.hpp) for exact gradients.
#pragma once

#include <cmath>
#include <string>
#include <utility>

#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

template <class S>
class Radial : public LayerBase<Radial<S>, S> {
 public:
  Radial(const RowVector<S>& z0, S alpha_raw, S beta_raw)
      : z0_("radial.z0", z0),
        alpha_raw_("radial.alpha_raw", Matrix<S>::Constant(1, 1, alpha_raw)),
        beta_raw_("radial.beta_raw", Matrix<S>::Constant(1, 1, beta_raw)) {
    detail::require_positive_dim("Radial", z0.cols());
    detail::require_finite("Radial (z0)", z0);
    if (!std::isfinite(alpha_raw) || !std::isfinite(beta_raw))
      throw ValueError("Radial: alpha_raw and beta_raw must be finite");
  }

  /// z0 ~ N(0, I), α_raw, β_raw ~ U(−1, 1).
  static Radial random(Index dim, Random& rng) {
    detail::require_positive_dim("Radial::random", dim);
    RowVector<S> z0(dim);
    for (Index j = 0; j < dim; ++j) z0(j) = static_cast<S>(rng.normal());
    return Radial(z0, static_cast<S>(rng.uniform(-1, 1)), static_cast<S>(rng.uniform(-1, 1)));
  }

  Index dim() const override { return z0_.value.cols(); }
  std::string type() const override { return "radial"; }
  ParameterList<S> parameters() override { return {&z0_, &alpha_raw_, &beta_raw_}; }
  const Matrix<S>& z0() const { return z0_.value; }
  S alpha_raw() const { return alpha_raw_.value(0, 0); }
  S beta_raw() const { return beta_raw_.value(0, 0); }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    const auto [alpha, beta] = constrained(context);
    const auto offset = sub(x, context.param(z0_));
    const auto denominator = add(alpha, row_norms(offset));  // α + r
    auto z = add(x, mul(div(beta, denominator), offset));
    return {std::move(z), log_det(alpha, beta, denominator)};
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    const auto [alpha, beta] = constrained(context);
    const auto z0 = context.param(z0_);
    const auto offset = sub(z, z0);
    const auto rho = row_norms(offset);
    const auto solved = context.constant(solve_radius(value_of(rho), value_of(alpha)(0, 0), value_of(beta)(0, 0)));
    // One recorded Newton step on g(r) = r + βr/(α + r) − ρ, g′(r) = 1 + βα/(α + r)².
    const auto solved_denominator = add(alpha, solved);
    const auto residual = sub(add(solved, div(mul(beta, solved), solved_denominator)), rho);
    const auto slope = add_scalar(div(mul(beta, alpha), square(solved_denominator)), S(1));
    const auto denominator = add(alpha, sub(solved, div(residual, slope)));  // α + r
    auto x = add(z0, mul(offset, div(denominator, add(denominator, beta))));
    return {std::move(x), scale(log_det(alpha, beta, denominator), S(-1))};
  }

 private:
  template <class C>
  std::pair<typename C::Value, typename C::Value> constrained(C& context) const {
    auto alpha = softplus(context.param(alpha_raw_));
    auto beta = sub(softplus(context.param(beta_raw_)), alpha);
    return {std::move(alpha), std::move(beta)};
  }

  // (D−1)·log1p(β/(α+r)) + log1p(βα/(α+r)²)
  template <class V>
  V log_det(const V& alpha, const V& beta, const V& denominator) const {
    const auto radial_term = scale(log1p(div(beta, denominator)), static_cast<S>(dim() - 1));
    return add(radial_term, log1p(div(mul(beta, alpha), square(denominator))));
  }

  // Positive root of r² + B·r − ρα = 0, B = α + β − ρ, without cancellation.
  static Matrix<S> solve_radius(const Matrix<S>& rho, S alpha, S beta) {
    Matrix<S> r(rho.rows(), 1);
    for (Index i = 0; i < rho.rows(); ++i) {
      const S p = rho(i, 0);
      if (!std::isfinite(p)) throw ValueError("Radial.inverse: non-finite input at row " + std::to_string(i));
      const S b = alpha + beta - p;
      const S root = std::sqrt(b * b + S(4) * p * alpha);
      r(i, 0) = p == S(0) ? S(0) : (b >= S(0) ? S(2) * p * alpha / (b + root) : (root - b) / S(2));
    }
    return r;
  }

  Parameter<S> z0_, alpha_raw_, beta_raw_;
};

}  // namespace eigenflow
