// A masked autoregressive layer: MAF (Papamakarios et al. 2017) with the
// affine transformer, NSF-AR (Durkan et al. 2019) with the rational-quadratic
// spline. A MADE conditioner gives each coordinate's parameters from the
// coordinates before it in the order:
//   forward  z_i = τ(x_i; θ_i(x_<i))              one pass (density)
//   inverse  x_i = τ⁻¹(z_i; θ_i(x_<i))            D passes (sampling): pass k fixes
//            the coordinate of degree k, since θ of degree k reads degrees < k only
//   log|det ∂z/∂x| = Σ_i log|τ′(x_i; θ_i)|        (triangular Jacobian)
// IAF (Kingma et al. 2016) is Inverted<MaskedAutoregressive>: one-pass
// sampling, D-pass density. The taped inverse records all D passes, and its
// gradient is exact: after pass k the coordinates of degree ≤ k are the exact
// inverse as functions of the parameters. Conditioned on a context c, the
// MADE's context inputs feed every hidden unit: θ_i(x_<i, c).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "eigenflow/flows/autoregressive/transformer.hpp"
#include "eigenflow/flows/layer.hpp"
#include "eigenflow/nn/made.hpp"

namespace eigenflow {

template <class S>
class MaskedAutoregressive : public LayerBase<MaskedAutoregressive<S>, S> {
 public:
  MaskedAutoregressive(Made<S> made, Transformer transformer) : made_(std::move(made)), transformer_(transformer) {
    transformer_.validate("MaskedAutoregressive");
    if (made_.params_per_dim() != transformer_.params_per_dim())
      throw ShapeError("MaskedAutoregressive: the " + transformer_.name() + " transformer takes " +
                       std::to_string(transformer_.params_per_dim()) + " parameters per dimension, the MADE gives " +
                       std::to_string(made_.params_per_dim()));
    made_.set_name("masked_autoregressive.made.");
  }

  /// A fresh layer over R^dim (conditioned on shape.context_dim context columns).
  /// identity_init zeroes the MADE's last layer: the layer then starts as the
  /// identity (both transformers map θ = 0 to it).
  static MaskedAutoregressive make(Index dim, const Transformer& transformer, const ConditionerShape& shape, InputOrder order,
                                   Random& rng, bool identity_init = false,
                                   HiddenDegrees hidden_degrees = HiddenDegrees::cyclic) {
    transformer.validate("MaskedAutoregressive::make");
    return MaskedAutoregressive(Made<S>(input_degrees(dim, order, rng), transformer.params_per_dim(), shape.context_dim, shape,
                                        hidden_degrees, rng, identity_init),
                                transformer);
  }

  Index dim() const override { return made_.dim(); }
  Index context_dim() const override { return made_.context_dim(); }
  std::string type() const override { return "masked_autoregressive"; }
  const Made<S>& made() const { return made_; }
  const Transformer& transformer() const { return transformer_; }
  ParameterList<S> parameters() override { return made_.parameters(); }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    return transformer_.apply(context, x, parameters_for(context, x), false);
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    std::pair<typename C::Value, typename C::Value> result{z, typename C::Value()};
    for (Index pass = 0; pass < dim(); ++pass)
      result = transformer_.apply(context, z, parameters_for(context, result.first), true);
    return result;
  }

 private:
  // θ(v) or θ(v, c): the MADE's outputs for v, with the pass's context when it takes one.
  template <class C>
  typename C::Value parameters_for(C& context, const typename C::Value& v) const {
    if (made_.context_dim() == 0) return made_.apply(context, v);
    return made_.apply(context, v, detail::given_context(context, made_.context_dim(), "masked_autoregressive"));
  }

  Made<S> made_;
  Transformer transformer_;
};

}  // namespace eigenflow
