// NICE additive coupling (seed 002). With a binary mask b (1 = pass through):
//   forward  z = x + (1−b)⊙t(b⊙x)
//   inverse  x = z − (1−b)⊙t(b⊙z)
//   log|det ∂z/∂x| = 0   (volume preserving)
// Conditioned on a context c, t reads [b⊙x | c].
#pragma once

#include <string>
#include <utility>

#include "eigenflow/flows/layer.hpp"
#include "eigenflow/flows/masks.hpp"
#include "eigenflow/nn/mlp.hpp"

namespace eigenflow {

template <class S>
class AdditiveCoupling : public LayerBase<AdditiveCoupling<S>, S> {
 public:
  AdditiveCoupling(const RowVector<S>& mask, Mlp<S> t_net) : mask_(mask), t_net_(std::move(t_net)) {
    context_dim_ = t_net_.input_dim() - dim();  // the context is what t reads beyond the D masked inputs
    detail::validate_mask("AdditiveCoupling", mask_, context_dim_ > 0);
    complement_ = RowVector<S>::Ones(mask_.cols()) - mask_;
    if (context_dim_ < 0 || t_net_.output_dim() != dim())
      throw ShapeError("AdditiveCoupling: t_net must map " + std::to_string(dim()) + " (+ context) -> " +
                       std::to_string(dim()) + ", found " + std::to_string(t_net_.input_dim()) + " -> " +
                       std::to_string(t_net_.output_dim()));
    t_net_.set_name("additive_coupling.t_net.");
  }

  /// Hidden layers given by hidden width, depth and activation; see AffineCoupling::make.
  static AdditiveCoupling make(const RowVector<S>& mask, Index hidden, Index depth, Activation activation,
                               Random& rng, bool identity_init = false, Index context_dim = 0) {
    return AdditiveCoupling(
        mask, Mlp<S>({mask.cols() + context_dim, hidden, depth, mask.cols(), activation}, rng, identity_init));
  }

  Index dim() const override { return mask_.cols(); }
  Index context_dim() const override { return context_dim_; }
  std::string type() const override { return "additive_coupling"; }
  const RowVector<S>& mask() const { return mask_; }
  const Mlp<S>& t_net() const { return t_net_; }
  ParameterList<S> parameters() override { return t_net_.parameters(); }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    return {add(x, shift(context, x)), detail::zero_log_det(context, x)};
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    return {sub(z, shift(context, z)), detail::zero_log_det(context, z)};
  }

 private:
  template <class C>
  typename C::Value shift(C& context, const typename C::Value& v) const {
    return mask_multiply(
        t_net_.apply(context, detail::with_context(context, mask_multiply(v, mask_), context_dim_, "additive_coupling")),
        complement_);
  }

  RowVector<S> mask_;
  RowVector<S> complement_;
  Mlp<S> t_net_;
  Index context_dim_ = 0;
};

}  // namespace eigenflow
