// The map an autoregressive layer applies to each coordinate, given the
// parameters θ its conditioner computed for that coordinate:
//   affine (MAF, Papamakarios et al. 2017, eqs. 3–5):
//     z = (x − μ)·exp(−α),  x = z·exp(α) + μ,  log|dz/dx| = −α,
//     with θ = [μ | α̃] and α = 3·tanh(α̃/3): a soft clamp to (−3, 3) that is
//     the identity near 0 and keeps a single layer from scaling by more than e³;
//   rational_quadratic (NSF, Durkan et al. 2019): flows/spline/rational_quadratic.hpp.
#pragma once

#include <string>
#include <utility>

#include "eigenflow/flows/spline/rational_quadratic.hpp"

namespace eigenflow {

enum class TransformerKind { affine, rational_quadratic };

struct Transformer {
  TransformerKind kind = TransformerKind::affine;
  SplineShape spline;  ///< used when kind is rational_quadratic

  static Transformer affine() { return {}; }
  static Transformer rational_quadratic(SplineShape shape = {}) { return {TransformerKind::rational_quadratic, shape}; }

  Index params_per_dim() const { return kind == TransformerKind::affine ? 2 : spline.params_per_dim(); }
  std::string name() const { return kind == TransformerKind::affine ? "affine" : "rational_quadratic"; }
  void validate(const std::string& where) const {
    if (kind == TransformerKind::rational_quadratic) spline.validate(where);
  }

  /// Every column of `in` (N x D) mapped under θ (N x P·D, parameter-major),
  /// forward (x → z) or inverse (z → x), with each row's Σ log|d out/d in|.
  template <class C>
  std::pair<typename C::Value, typename C::Value> apply(C& context, const typename C::Value& in,
                                                        const typename C::Value& theta, bool inverse) const {
    using S = typename C::Scalar;
    const Index dim = value_of(in).cols();
    if (kind == TransformerKind::rational_quadratic)
      return rational_quadratic_spline(in, theta, Matrix<S>(Matrix<S>::Ones(1, dim)), spline, inverse);
    (void)context;
    const auto shift = columns(theta, 0, dim);
    const auto log_scale = scale(tanh(scale(columns(theta, dim, dim), S(1) / S(3))), S(3));
    if (inverse) return {add(mul(in, exp(log_scale)), shift), row_sums(log_scale)};
    return {mul(sub(in, shift), exp(scale(log_scale, S(-1)))), scale(row_sums(log_scale), S(-1))};
  }
};

}  // namespace eigenflow
