// A multilayer perceptron: dense layers y = x·Wᵀ + b (PyTorch's nn.Linear
// layout, W is out x in) with an activation between layers and none after
// the last. Used as the conditioner s(·), t(·) of coupling layers.
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
      if (hidden && activation_ == Activation::relu) {  // fused: no pre-activation kept
        h = linear_relu(h, context.param(dense_[layer].weight), context.param(dense_[layer].bias));
        continue;
      }
      h = linear(h, context.param(dense_[layer].weight), context.param(dense_[layer].bias));
      if (hidden) h = activate(h, activation_);
    }
    return h;
  }

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
  std::string prefix_;
};

}  // namespace eigenflow
