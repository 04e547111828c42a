// MADE (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution
// Estimation", section 4): an MLP whose weight masks make output group i
// depend only on the inputs that come before i in an order.
//
// Degrees: input j has degree m(j) ∈ {1..D} (its place in the order); hidden
// unit k has a degree m(k) ∈ [1, D−1]; context inputs have degree 0, and with
// a context hidden degrees start at 0 too, so that units seeing only the
// context carry it to the first dimension's outputs (degree 1). Masks
// (eq. 12 and 13 of the paper):
//   hidden   M[k, j] = 1  iff  m(k) ≥ m(j)
//   output   M[o, k] = 1  iff  m(o) > m(k)
// There are P outputs per dimension, parameter-major: output column p·D + i
// is parameter p of dimension i and has degree m(i), so every parameter of
// dimension i is a function of x_<i (in the order) and of the context alone.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "eigenflow/nn/mlp.hpp"

namespace eigenflow {

/// The autoregressive order of a MADE's inputs.
enum class InputOrder { natural, reverse, random };
/// How hidden units get their degrees: m(k) = 1 + (k mod (D−1)), or uniform in [1, D−1]
/// (from 0 instead of 1 when the MADE has a context).
enum class HiddenDegrees { cyclic, random };

/// Input degrees 1..D in the given order (random: a seeded shuffle).
inline std::vector<Index> input_degrees(Index dim, InputOrder order, Random& rng) {
  std::vector<Index> degrees(static_cast<std::size_t>(dim));
  for (Index j = 0; j < dim; ++j) degrees[static_cast<std::size_t>(j)] = order == InputOrder::reverse ? dim - j : j + 1;
  if (order == InputOrder::random) rng.shuffle(degrees.begin(), degrees.end());
  return degrees;
}

template <class S>
class Made {
 public:
  /// A fresh network. degrees: one per input, a permutation of 1..D (D ≥ 2);
  /// params_per_dim: P outputs per dimension; context_dim: extra inputs of
  /// degree 0 that feed every hidden unit (0: none). zero_last_layer starts
  /// every output at 0.
  Made(std::vector<Index> degrees, Index params_per_dim, Index context_dim, const ConditionerShape& shape,
       HiddenDegrees hidden_degrees, Random& rng, bool zero_last_layer = false)
      : degrees_(std::move(degrees)), params_per_dim_(params_per_dim), context_dim_(context_dim) {
    validate_sizes();
    if (shape.depth < 1 || shape.hidden < 1)
      throw ValueError("Made: needs at least one hidden layer of positive width, found depth " +
                       std::to_string(shape.depth) + ", hidden " + std::to_string(shape.hidden));
    for (Index layer = 0; layer < shape.depth; ++layer) {
      std::vector<Index> layer_degrees(static_cast<std::size_t>(shape.hidden));
      const Index lowest = context_dim_ > 0 ? 0 : 1, count = dim() - lowest;  // degrees lowest..D−1
      for (Index k = 0; k < shape.hidden; ++k)
        layer_degrees[static_cast<std::size_t>(k)] =
            lowest + (hidden_degrees == HiddenDegrees::cyclic ? k % count
                                                              : static_cast<Index>(rng.below(static_cast<std::uint64_t>(count))));
      hidden_degrees_.push_back(std::move(layer_degrees));
    }
    net_ = Mlp<S>({dim() + context_dim_, shape.hidden, shape.depth, params_per_dim_ * dim(), shape.activation}, rng,
                  zero_last_layer);
    apply_masks();
  }

  /// From saved parts (model files): input degrees, hidden degrees per layer and the network.
  Made(std::vector<Index> degrees, std::vector<std::vector<Index>> hidden_degrees, Index params_per_dim,
       Index context_dim, Mlp<S> net)
      : degrees_(std::move(degrees)), hidden_degrees_(std::move(hidden_degrees)), params_per_dim_(params_per_dim),
        context_dim_(context_dim), net_(std::move(net)) {
    validate_sizes();
    if (hidden_degrees_.empty()) throw ValueError("Made: needs at least one hidden layer");
    if (hidden_degrees_.size() + 1 != net_.layers().size())
      throw ShapeError("Made: " + std::to_string(hidden_degrees_.size()) + " hidden degree lists for a network of " +
                       std::to_string(net_.layers().size()) + " layers");
    if (net_.input_dim() != dim() + context_dim_ || net_.output_dim() != params_per_dim_ * dim())
      throw ShapeError("Made: the network must map " + std::to_string(dim() + context_dim_) + " -> " +
                       std::to_string(params_per_dim_ * dim()) + ", found " + std::to_string(net_.input_dim()) + " -> " +
                       std::to_string(net_.output_dim()));
    for (std::size_t layer = 0; layer < hidden_degrees_.size(); ++layer) {
      const auto& layer_degrees = hidden_degrees_[layer];
      if (static_cast<Index>(layer_degrees.size()) != net_.layers()[layer].weight.value.rows())
        throw ShapeError("Made: hidden layer " + std::to_string(layer) + " has " +
                         std::to_string(net_.layers()[layer].weight.value.rows()) + " units but " +
                         std::to_string(layer_degrees.size()) + " degrees");
      const Index lowest = context_dim_ > 0 ? 0 : 1;  // units of degree 0 see the context alone
      for (Index degree : layer_degrees)
        if (degree < lowest || degree > dim() - 1)
          throw ValueError("Made: hidden degrees must lie in [" + std::to_string(lowest) + ", " +
                           std::to_string(dim() - 1) + "], found " + std::to_string(degree) + " in layer " +
                           std::to_string(layer));
    }
    apply_masks();
  }

  Index dim() const { return static_cast<Index>(degrees_.size()); }
  Index params_per_dim() const { return params_per_dim_; }
  Index context_dim() const { return context_dim_; }
  const std::vector<Index>& degrees() const { return degrees_; }
  const std::vector<std::vector<Index>>& hidden_degrees() const { return hidden_degrees_; }
  const Mlp<S>& net() const { return net_; }
  ParameterList<S> parameters() { return net_.parameters(); }
  void set_name(const std::string& prefix) { net_.set_name(prefix); }

  /// The P·D outputs for inputs x (N x D).
  template <class Context>
  typename Context::Value apply(Context& context, const typename Context::Value& x) const {
    if (context_dim_ != 0)
      throw ShapeError("Made: this network takes a context of " + std::to_string(context_dim_) + " columns; none given");
    return net_.apply(context, x);
  }
  /// The same with a context c (N x context_dim), which every hidden unit sees.
  template <class Context>
  typename Context::Value apply(Context& context, const typename Context::Value& x, const typename Context::Value& c) const {
    if (value_of(c).cols() != context_dim_ || value_of(c).rows() != value_of(x).rows())
      throw ShapeError("Made: expected a context of " + std::to_string(value_of(x).rows()) + "x" +
                       std::to_string(context_dim_) + ", found " +
                       detail::shape_string(value_of(c).rows(), value_of(c).cols()));
    return net_.apply(context, concat_columns(x, c));
  }

 private:
  void validate_sizes() const {
    // one dimension is autoregressive only on a context: its parameters are functions of c alone
    if (dim() < (context_dim_ > 0 ? 1 : 2))
      throw ValueError("Made: needs dimension >= 2 (>= 1 with a context), found " + std::to_string(dim()));
    if (params_per_dim_ < 1 || context_dim_ < 0)
      throw ValueError("Made: params_per_dim must be positive and context_dim non-negative, found " +
                       std::to_string(params_per_dim_) + " and " + std::to_string(context_dim_));
    std::vector<bool> seen(degrees_.size(), false);
    for (std::size_t j = 0; j < degrees_.size(); ++j) {
      const Index degree = degrees_[j];
      if (degree < 1 || degree > dim() || seen[static_cast<std::size_t>(degree - 1)])
        throw ValueError("Made: input degrees must hold each of 1.." + std::to_string(dim()) +
                         " exactly once; entry " + std::to_string(j) + " is " + std::to_string(degree));
      seen[static_cast<std::size_t>(degree - 1)] = true;
    }
  }

  /// Masks from degrees: ≥ into hidden units, > into outputs (context inputs have degree 0).
  void apply_masks() {
    std::vector<Index> previous(degrees_);
    previous.resize(static_cast<std::size_t>(dim() + context_dim_), 0);
    std::vector<Matrix<S>> masks;
    for (std::size_t layer = 0; layer <= hidden_degrees_.size(); ++layer) {
      const bool output = layer == hidden_degrees_.size();
      std::vector<Index> current;
      if (output)
        for (Index p = 0; p < params_per_dim_; ++p) current.insert(current.end(), degrees_.begin(), degrees_.end());
      else
        current = hidden_degrees_[layer];
      Matrix<S> mask(static_cast<Index>(current.size()), static_cast<Index>(previous.size()));
      for (Index k = 0; k < mask.rows(); ++k)
        for (Index j = 0; j < mask.cols(); ++j) {
          const Index to = current[static_cast<std::size_t>(k)], from = previous[static_cast<std::size_t>(j)];
          mask(k, j) = (output ? to > from : to >= from) ? S(1) : S(0);
        }
      masks.push_back(std::move(mask));
      previous = std::move(current);
    }
    net_.set_masks(std::move(masks));
  }

  std::vector<Index> degrees_;
  std::vector<std::vector<Index>> hidden_degrees_;
  Index params_per_dim_;
  Index context_dim_;
  Mlp<S> net_;
};

}  // namespace eigenflow
