// Masked affine coupling (RealNVP; seeds 000, 001, 003). With a binary mask b
// (1 = pass through) and conditioner outputs s, t computed from b⊙x:
//   forward  z = x ⊙ exp(s) + t,       s = (1−b)⊙s̃(b⊙x), t = (1−b)⊙t̃(b⊙x)
//   inverse  x = (z − t) ⊙ exp(−s),    with s, t from b⊙z = b⊙x
//   log|det ∂z/∂x| = Σ_j s_j
// s̃ is optionally bounded by tanh (seed 001). The conditioner is either two
// MLPs s̃, t̃: R^D → R^D (seed 001) or one MLP R^D → R^2D whose first D
// outputs are s̃ and last D are t̃ (seed 003). Conditioned on a context c, the
// networks read [b⊙x | c] (input width D + K) and s, t depend on c too.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "eigenflow/flows/layer.hpp"
#include "eigenflow/flows/masks.hpp"
#include "eigenflow/nn/mlp.hpp"

namespace eigenflow {

enum class ScaleActivation { identity, tanh };
enum class Conditioner { separate, shared };

template <class S>
class AffineCoupling : public LayerBase<AffineCoupling<S>, S> {
 public:
  /// Separate s and t networks, each D -> D.
  AffineCoupling(const RowVector<S>& mask, Mlp<S> s_net, Mlp<S> t_net, ScaleActivation scale_activation)
      : mask_(mask), s_net_(std::move(s_net)), t_net_(std::move(t_net)), scale_activation_(scale_activation) {
    init_mask(*s_net_);
    check_net("s_net", *s_net_, dim());
    check_net("t_net", *t_net_, dim());
    name_nets();
  }

  /// One shared network D -> 2D: outputs [s̃ | t̃].
  AffineCoupling(const RowVector<S>& mask, Mlp<S> net, ScaleActivation scale_activation)
      : mask_(mask), net_(std::move(net)), scale_activation_(scale_activation) {
    init_mask(*net_);
    check_net("net", *net_, 2 * dim());
    name_nets();
  }

  /// Builds fresh conditioner networks of the given shape (reading a context of
  /// shape.context_dim columns besides b⊙x). identity_init zeroes their last
  /// layers so the layer starts as the identity map.
  static AffineCoupling make(const RowVector<S>& mask, const ConditionerShape& shape, Conditioner conditioner,
                             ScaleActivation scale_activation, Random& rng, bool identity_init = false) {
    const Index d = mask.cols(), in = d + shape.context_dim;
    if (conditioner == Conditioner::shared)
      return AffineCoupling(mask, Mlp<S>({in, shape.hidden, shape.depth, 2 * d, shape.activation}, rng, identity_init),
                            scale_activation);
    Mlp<S> s_net({in, shape.hidden, shape.depth, d, shape.activation}, rng, identity_init);
    Mlp<S> t_net({in, shape.hidden, shape.depth, d, shape.activation}, rng, identity_init);
    return AffineCoupling(mask, std::move(s_net), std::move(t_net), scale_activation);
  }

  Index dim() const override { return mask_.cols(); }
  Index context_dim() const override { return context_dim_; }
  std::string type() const override { return "affine_coupling"; }
  const RowVector<S>& mask() const { return mask_; }
  ScaleActivation scale_activation() const { return scale_activation_; }
  Conditioner conditioner() const { return net_ ? Conditioner::shared : Conditioner::separate; }
  /// The networks: s_net and t_net when separate, net when shared.
  const Mlp<S>* s_net() const { return s_net_ ? &*s_net_ : nullptr; }
  const Mlp<S>* t_net() const { return t_net_ ? &*t_net_ : nullptr; }
  const Mlp<S>* net() const { return net_ ? &*net_ : nullptr; }

  ParameterList<S> parameters() override {
    ParameterList<S> list;
    for (auto* network : {&s_net_, &t_net_, &net_})
      if (*network)
        for (auto* p : (*network)->parameters()) list.push_back(p);
    return list;
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    auto [s, t] = scale_and_shift(context, x);
    auto z = add(mul(x, exp(s)), t);
    return {std::move(z), row_sums(s)};
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    auto [s, t] = scale_and_shift(context, z);
    auto x = mul(sub(z, t), exp(scale(s, S(-1))));
    return {std::move(x), scale(row_sums(s), S(-1))};
  }

 private:
  // s = (1−b)⊙bound(s̃(b⊙v)), t = (1−b)⊙t̃(b⊙v); v is x or z, equal on the b = 1 entries.
  template <class C>
  std::pair<typename C::Value, typename C::Value> scale_and_shift(C& context, const typename C::Value& v) const {
    const auto conditioning = detail::with_context(context, mask_multiply(v, mask_), context_dim_, "affine_coupling");
    typename C::Value raw_s, raw_t;
    if (net_) {
      const auto both = net_->apply(context, conditioning);
      raw_s = columns(both, 0, dim());
      raw_t = columns(both, dim(), dim());
    } else {
      raw_s = s_net_->apply(context, conditioning);
      raw_t = t_net_->apply(context, conditioning);
    }
    if (scale_activation_ == ScaleActivation::tanh) raw_s = tanh(raw_s);
    return {mask_multiply(raw_s, complement_), mask_multiply(raw_t, complement_)};
  }

  // The context width is what the first network reads beyond the D masked inputs.
  void init_mask(const Mlp<S>& first_net) {
    context_dim_ = std::max<Index>(0, first_net.input_dim() - dim());
    detail::validate_mask("AffineCoupling", mask_, context_dim_ > 0);
    complement_ = RowVector<S>::Ones(mask_.cols()) - mask_;
  }
  void check_net(const char* name, const Mlp<S>& network, Index outputs) const {
    if (network.input_dim() != dim() + context_dim_ || network.output_dim() != outputs)
      throw ShapeError(std::string("AffineCoupling: ") + name + " must map " + std::to_string(dim() + context_dim_) +
                       " -> " + std::to_string(outputs) + " for a mask of size " + std::to_string(dim()) +
                       (context_dim_ > 0 ? " and a context of " + std::to_string(context_dim_) : std::string()) +
                       ", found " + std::to_string(network.input_dim()) + " -> " + std::to_string(network.output_dim()));
  }
  void name_nets() {
    if (s_net_) s_net_->set_name("affine_coupling.s_net.");
    if (t_net_) t_net_->set_name("affine_coupling.t_net.");
    if (net_) net_->set_name("affine_coupling.net.");
  }

  RowVector<S> mask_;
  RowVector<S> complement_;
  std::optional<Mlp<S>> s_net_, t_net_, net_;
  ScaleActivation scale_activation_;
  Index context_dim_ = 0;
};

}  // namespace eigenflow
