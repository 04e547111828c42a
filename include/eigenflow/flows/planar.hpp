// Planar flow (Rezende & Mohamed 2015; seeds 002, 003):
//   forward  z = x + û·tanh(wᵀx + b)
//   log|det ∂z/∂x| = log(1 + tanh′(wᵀx + b)·ûᵀw)
// Invertibility needs ûᵀw ≥ −1; the reparameterisation
//   û = u + (m(wᵀu) − wᵀu)·w/‖w‖²,   m(a) = −1 + softplus(a)
// gives ûᵀw = m(wᵀu) > −1 for any raw u.
//
// Inverse (which seed 003 lacked): with t = wᵀx + b, wᵀz + b = t + m·tanh(t),
// strictly increasing in t, with t in [wᵀz + b − |m|, wᵀz + b + |m|]. A safeguarded
// Newton iteration solves it to the last digits of t, then x = z − û·tanh(t).
// On a tape the solution enters through one more Newton step taken on the
// tape, t = t* − g(t*)/g′(t*): its value is t* and its derivative is the
// implicit-function gradient −(∂g/∂θ)/g′, so the inverse is trainable too.
#pragma once

#include <cmath>
#include <string>
#include <utility>

#include "eigenflow/core/root_finding.hpp"
#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

template <class S>
class Planar : public LayerBase<Planar<S>, S> {
 public:
  Planar(const RowVector<S>& u, const RowVector<S>& w, S b)
      : u_("planar.u", u), w_("planar.w", w), b_("planar.b", Matrix<S>::Constant(1, 1, b)) {
    detail::require_positive_dim("Planar", u.cols());
    if (u.cols() != w.cols())
      throw ShapeError("Planar: u and w must have the same size, found " + std::to_string(u.cols()) + " and " +
                       std::to_string(w.cols()));
    detail::require_finite("Planar (u)", u);
    detail::require_finite("Planar (w)", w);
    if (!std::isfinite(b)) throw ValueError("Planar: b must be finite");
    if (!(w.squaredNorm() > S(0))) throw ValueError("Planar: w must have non-zero norm (û divides by ‖w‖²)");
  }

  /// u, w ~ U(−1/√D, 1/√D), b = 0.
  static Planar random(Index dim, Random& rng) {
    detail::require_positive_dim("Planar::random", dim);
    const double bound = 1.0 / std::sqrt(static_cast<double>(dim));
    RowVector<S> u(dim), w(dim);
    for (Index j = 0; j < dim; ++j) {
      u(j) = static_cast<S>(rng.uniform(-bound, bound));
      w(j) = static_cast<S>(rng.uniform(-bound, bound));
    }
    return Planar(u, w, S(0));
  }

  Index dim() const override { return u_.value.cols(); }
  std::string type() const override { return "planar"; }
  ParameterList<S> parameters() override { return {&u_, &w_, &b_}; }
  const Matrix<S>& u() const { return u_.value; }
  const Matrix<S>& w() const { return w_.value; }
  S b() const { return b_.value(0, 0); }
  /// û, the vector actually used (ûᵀw > −1).
  Matrix<S> u_hat() const {
    PlainContext<S> context;
    return constrained(context).first;
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    const auto [u_hat, m] = constrained(context);
    auto h = tanh(linear(x, context.param(w_), context.param(b_)));  // tanh(wᵀx + b), N x 1
    auto z = add(x, matmul(h, u_hat));
    return {std::move(z), log_det(h, m)};
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    const auto [u_hat, m] = constrained(context);
    const auto target = linear(z, context.param(w_), context.param(b_));  // wᵀz + b per row
    const auto solved = context.constant(solve_pre_activation(value_of(target), value_of(m)(0, 0)));
    // One Newton step on g(t) = t + m·tanh(t) − (wᵀz + b), recorded: value t*, gradient by the implicit function theorem.
    const auto tanh_solved = tanh(solved);
    const auto residual = sub(add(solved, mul(tanh_solved, m)), target);
    const auto slope = add_scalar(mul(one_minus_square(tanh_solved), m), S(1));
    auto h = tanh(sub(solved, div(residual, slope)));
    auto x = sub(z, matmul(h, u_hat));
    return {std::move(x), scale(log_det(h, m), S(-1))};
  }

 private:
  // û = u + (m − wᵀu)·w/‖w‖², with m = −1 + softplus(wᵀu) = ûᵀw.
  template <class C>
  std::pair<typename C::Value, typename C::Value> constrained(C& context) const {
    const auto u = context.param(u_);
    const auto w = context.param(w_);
    const auto wu = sum(mul(u, w));
    auto m = add_scalar(softplus(wu), S(-1));
    auto u_hat = add(u, mul(div(sub(m, wu), sum(square(w))), w));
    return {std::move(u_hat), std::move(m)};
  }

  template <class V>
  static V one_minus_square(const V& h) { return add_scalar(scale(square(h), S(-1)), S(1)); }

  // log(1 + tanh′·ûᵀw) = log1p((1 − h²)·m); the argument is > 0 because m > −1.
  template <class V>
  static V log_det(const V& h, const V& m) { return log1p(mul(one_minus_square(h), m)); }

  // t = wᵀx + b solves t + m·tanh(t) = wᵀz + b =: c, inside [c − |m|, c + |m|]. Solving
  // for t rather than α = wᵀx keeps a large |b| out of the root's precision: where the
  // map is steep (|t| ≪ 1) t is found to its own last digits, not to eps·|b|.
  static Matrix<S> solve_pre_activation(const Matrix<S>& target, S m) {
    Matrix<S> t(target.rows(), 1);
    const S reach = std::abs(m);
    for (Index i = 0; i < target.rows(); ++i) {
      const S c = target(i, 0);
      if (!std::isfinite(c)) throw ValueError("Planar.inverse: non-finite input at row " + std::to_string(i));
      auto g = [&](S a) { return a + m * std::tanh(a) - c; };
      auto dg = [&](S a) {
        const S h = std::tanh(a);
        return S(1) + m * (S(1) - h * h);
      };
      t(i, 0) = detail::solve_increasing<S>(g, dg, c - reach, c + reach, c - m * std::tanh(c), "Planar.inverse");
    }
    return t;
  }

  Parameter<S> u_, w_, b_;
};

}  // namespace eigenflow
