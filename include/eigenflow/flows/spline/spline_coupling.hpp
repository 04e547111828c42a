// Rational-quadratic spline coupling (NSF-C, Durkan et al. 2019, section 3.2).
// With a binary mask b (1 = pass through) and spline parameters θ = net(b⊙x):
//   forward  z_j = x_j for b_j = 1,  z_j = RQS(x_j; θ_j) for b_j = 0
//   inverse  x_j = RQS⁻¹(z_j; θ_j), θ from b⊙z = b⊙x (one pass each way)
//   log|det ∂z/∂x| = Σ_{j: b_j = 0} log RQS′(x_j; θ_j)
// The network maps D → (3K−1)·D (parameter-major; the columns of passed-through
// coordinates are computed and ignored, which keeps every mask one layout).
// Conditioned on a context c, the network reads [b⊙x | c] (D + K inputs).
#pragma once

#include <string>
#include <utility>

#include "eigenflow/flows/layer.hpp"
#include "eigenflow/flows/masks.hpp"
#include "eigenflow/flows/spline/rational_quadratic.hpp"
#include "eigenflow/nn/mlp.hpp"

namespace eigenflow {

template <class S>
class SplineCoupling : public LayerBase<SplineCoupling<S>, S> {
 public:
  SplineCoupling(const RowVector<S>& mask, Mlp<S> net, SplineShape shape) : mask_(mask), net_(std::move(net)), shape_(shape) {
    context_dim_ = net_.input_dim() - dim();  // the context is what the net reads beyond the D masked inputs
    detail::validate_mask("SplineCoupling", mask_, context_dim_ > 0);
    shape_.validate("SplineCoupling");
    active_ = Matrix<S>::Ones(1, dim()) - mask_;
    if (context_dim_ < 0 || net_.output_dim() != shape_.params_per_dim() * dim())
      throw ShapeError("SplineCoupling: net must map " + std::to_string(dim()) + " (+ context) -> " +
                       std::to_string(shape_.params_per_dim() * dim()) + " for " + std::to_string(shape_.bins) +
                       " bins, found " + std::to_string(net_.input_dim()) + " -> " + std::to_string(net_.output_dim()));
    net_.set_name("spline_coupling.net.");
  }

  /// A fresh layer; identity_init zeroes the network's last layer (θ = 0 is the identity spline).
  static SplineCoupling make(const RowVector<S>& mask, const ConditionerShape& conditioner, SplineShape shape, Random& rng,
                             bool identity_init = false) {
    shape.validate("SplineCoupling::make");
    const Index d = mask.cols();
    return SplineCoupling(
        mask, Mlp<S>({d + conditioner.context_dim, conditioner.hidden, conditioner.depth, shape.params_per_dim() * d, conditioner.activation}, rng, identity_init),
        shape);
  }

  Index dim() const override { return mask_.cols(); }
  Index context_dim() const override { return context_dim_; }
  std::string type() const override { return "spline_coupling"; }
  const RowVector<S>& mask() const { return mask_; }
  const Mlp<S>& net() const { return net_; }
  const SplineShape& shape() const { return shape_; }
  ParameterList<S> parameters() override { return net_.parameters(); }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    return rational_quadratic_spline(x, parameters_for(context, x), active_, shape_, false);
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    return rational_quadratic_spline(z, parameters_for(context, z), active_, shape_, true);
  }

 private:
  // θ = net([b⊙v | c]); v is x or z, equal on the b = 1 entries.
  template <class C>
  typename C::Value parameters_for(C& context, const typename C::Value& v) const {
    return net_.apply(context, detail::with_context(context, mask_multiply(v, mask_), context_dim_, "spline_coupling"));
  }

  RowVector<S> mask_;
  Matrix<S> active_;
  Mlp<S> net_;
  SplineShape shape_;
  Index context_dim_ = 0;
};

}  // namespace eigenflow
