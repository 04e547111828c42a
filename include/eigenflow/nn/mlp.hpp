// A multilayer perceptron: dense layers y = x·Wᵀ + b (PyTorch's nn.Linear
// layout, W is out x in) with an activation between layers and none after
// the last. Used as the conditioner s(·), t(·) of coupling layers.
// Optional constant 0/1 weight masks make it a MADE (nn/made.hpp): layer k
// then computes y = x·(W_k ⊙ M_k)ᵀ + b_k, the mask applied to the weights once
// per pass (never per row), so a masked layer still costs one dense GEMM.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "eigenflow/autodiff/context.hpp"
#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/nn/activation.hpp"

namespace eigenflow {

/// The shape of an MLP: in -> hidden x depth -> out.
struct MlpShape {
  Index inputs = 0;
  Index hidden = 64;   ///< width of every hidden layer
  Index depth = 2;     ///< number of hidden layers (0: a single dense layer)
  Index outputs = 0;
  Activation activation = Activation::relu;
};

/// Hidden layers of a conditioner network (coupling nets, MADE): width, count, activation,
/// and the columns of a context c appended to its input (conditional flows; 0: none).
struct ConditionerShape {
  Index hidden = 64;
  Index depth = 2;
  Activation activation = Activation::relu;
  Index context_dim = 0;
};

template <class S>
class Mlp {
 public:
  struct Dense {
    Parameter<S> weight;  // out x in
    Parameter<S> bias;    // 1 x out
  };

  Mlp() = default;

  /// PyTorch's default initialisation: W, b ~ U(−1/√in, 1/√in).
  /// zero_last_layer starts the network at the constant 0, so that a coupling
  /// layer built on it starts as the identity (a common, stable choice).
  Mlp(const MlpShape& shape, Random& rng, bool zero_last_layer = false) : activation_(shape.activation) {
    if (shape.inputs <= 0 || shape.outputs <= 0)
      throw ValueError("Mlp: inputs and outputs must be positive, found " + std::to_string(shape.inputs) +
                       " and " + std::to_string(shape.outputs));
    if (shape.depth < 0 || (shape.depth > 0 && shape.hidden <= 0))
      throw ValueError("Mlp: hidden width must be positive and depth non-negative, found hidden=" +
                       std::to_string(shape.hidden) + " depth=" + std::to_string(shape.depth));
    Index in = shape.inputs;
    for (Index layer = 0; layer <= shape.depth; ++layer) {
      const bool last = layer == shape.depth;
      const Index out = last ? shape.outputs : shape.hidden;
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      Matrix<S> weight(out, in), bias(1, out);
      for (Index i = 0; i < weight.size(); ++i) weight.data()[i] = static_cast<S>(rng.uniform(-bound, bound));
      for (Index i = 0; i < bias.size(); ++i) bias.data()[i] = static_cast<S>(rng.uniform(-bound, bound));
      if (last && zero_last_layer) {
        weight.setZero();
        bias.setZero();
      }
      add_layer(std::move(weight), std::move(bias));
      in = out;
    }
  }

  /// Builds from explicit weights (used by model loading); shapes are checked.
  Mlp(Activation activation, std::vector<std::pair<Matrix<S>, Matrix<S>>> weights_and_biases)
      : activation_(activation) {
    if (weights_and_biases.empty()) throw ValueError("Mlp: needs at least one layer");
    for (auto& [weight, bias] : weights_and_biases) {
      if (!dense_.empty() && weight.cols() != output_dim())
        throw ShapeError("Mlp: layer " + std::to_string(dense_.size()) + " takes " + std::to_string(weight.cols()) +
                         " inputs but the previous layer gives " + std::to_string(output_dim()));
      if (bias.rows() != 1 || bias.cols() != weight.rows())
        detail::throw_shape_mismatch("Mlp (weight vs bias)", weight, bias);
      add_layer(std::move(weight), std::move(bias));
    }
  }

  Index input_dim() const { return dense_.empty() ? 0 : dense_.front().weight.value.cols(); }
  Index output_dim() const { return dense_.empty() ? 0 : dense_.back().weight.value.rows(); }
  Activation activation() const { return activation_; }
  const std::vector<Dense>& layers() const { return dense_; }

  /// The network's output for a Matrix (PlainContext) or a Var (TapeContext).
  template <class Context>
  typename Context::Value apply(Context& context, const typename Context::Value& x) const {
    typename Context::Value h = x;
    for (std::size_t layer = 0; layer < dense_.size(); ++layer) {
      const bool hidden = layer + 1 < dense_.size();
      if (masks_.empty()) h = dense(context, layer, h, context.param(dense_[layer].weight), hidden);
      else h = dense(context, layer, h, mask_multiply(context.param(dense_[layer].weight), masks_[layer]), hidden);
    }
    return h;
  }

  /// Constant 0/1 masks, one per layer in the shape of its weight (empty: dense).
  void set_masks(std::vector<Matrix<S>> masks) {
    if (!masks.empty()) {
      if (masks.size() != dense_.size())
        throw ShapeError("Mlp::set_masks: expected " + std::to_string(dense_.size()) + " masks, found " +
                         std::to_string(masks.size()));
      for (std::size_t k = 0; k < masks.size(); ++k)
        if (!detail::same_shape(masks[k], dense_[k].weight.value))
          detail::throw_shape_mismatch(("Mlp::set_masks (layer " + std::to_string(k) + ")").c_str(), masks[k],
                                       dense_[k].weight.value);
    }
    masks_ = std::move(masks);
  }
  const std::vector<Matrix<S>>& masks() const { return masks_; }

  Matrix<S> operator()(const Matrix<S>& x) const {
    PlainContext<S> context;
    return apply(context, x);
  }

  ParameterList<S> parameters() {
    ParameterList<S> list;
    for (auto& dense : dense_) {
      list.push_back(&dense.weight);
      list.push_back(&dense.bias);
    }
    return list;
  }

  /// Prefixes parameter names (e.g. "coupling3.s_net.") for messages and files.
  void set_name(const std::string& prefix) {
    prefix_ = prefix;
    rename();
  }

 private:
  /// One dense layer on a (possibly masked) weight; hidden ReLU layers are fused (no pre-activation kept).
  template <class Context, class Weight>
  typename Context::Value dense(Context& context, std::size_t layer, const typename Context::Value& h,
                                const Weight& weight, bool hidden) const {
    const auto& bias = context.param(dense_[layer].bias);
    if (hidden && activation_ == Activation::relu) return linear_relu(h, weight, bias);
    typename Context::Value out = linear(h, weight, bias);
    return hidden ? activate(out, activation_) : out;
  }

  void add_layer(Matrix<S> weight, Matrix<S> bias) {
    dense_.push_back({Parameter<S>("", std::move(weight)), Parameter<S>("", std::move(bias))});
    rename();
  }
  void rename() {
    for (std::size_t i = 0; i < dense_.size(); ++i) {
      dense_[i].weight.name = prefix_ + "layers." + std::to_string(i) + ".weight";
      dense_[i].bias.name = prefix_ + "layers." + std::to_string(i) + ".bias";
    }
  }

  Activation activation_ = Activation::relu;
  std::vector<Dense> dense_;
  std::vector<Matrix<S>> masks_;
  std::string prefix_;
};

}  // namespace eigenflow
