// FlowStack: layers composed at run time (what loading a model file needs).
//   f = f_K ∘ … ∘ f_1 (data → latent),  log|det ∂f/∂x| = Σ_k log|det ∂f_k|
// Layers are applied in the order they were added; inverse runs them backwards.
// An optional fixed standardisation runs before the first layer, so that
// densities and samples are in the caller's raw coordinates. A stack may also
// record which columns hold integers it was fitted to dequantised
// (flows/dequantization.hpp): log_prob stays the continuous density p, and
// quantize / dequantized_log_prob give samples and log-masses of P.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eigenflow/distributions/standard_normal.hpp"
#include "eigenflow/flows/dequantization.hpp"
#include "eigenflow/flows/flow_methods.hpp"
#include "eigenflow/flows/standardize.hpp"

namespace eigenflow {

template <class S>
class FlowStack : public FlowMethods<FlowStack<S>, S> {
 public:
  using Scalar = S;

  /// An empty stack (the identity) over R^dim with a standard normal base.
  explicit FlowStack(Index dim) : dim_(dim), base_(std::make_unique<StandardNormal<S>>(dim)) {}

  FlowStack(const FlowStack& other)
      : dim_(other.dim_), base_(other.base_->clone()), preprocess_(other.preprocess_), dequantized_(other.dequantized_) {
    for (const auto& layer : other.layers_) layers_.push_back(layer->clone());
  }
  FlowStack& operator=(const FlowStack& other) {
    if (this != &other) *this = FlowStack(other);
    return *this;
  }
  FlowStack(FlowStack&&) noexcept = default;
  FlowStack& operator=(FlowStack&&) noexcept = default;

  /// Appends a layer (it becomes the last one applied in forward).
  Layer<S>& append(std::unique_ptr<Layer<S>> layer) {
    if (!layer) throw ValueError("FlowStack::append: null layer");
    if (layer->dim() != dim_)
      throw ShapeError("FlowStack::append: layer " + std::to_string(layers_.size()) + " (" + layer->type() +
                       ") has dimension " + std::to_string(layer->dim()) + ", the stack " + std::to_string(dim_));
    layers_.push_back(std::move(layer));
    return *layers_.back();
  }
  /// Appends a copy of a concrete layer and returns a reference to the stored one.
  template <class L, class = std::enable_if_t<std::is_base_of_v<Layer<S>, std::decay_t<L>>>>
  std::decay_t<L>& append(L&& layer) {
    return static_cast<std::decay_t<L>&>(append(std::make_unique<std::decay_t<L>>(std::forward<L>(layer))));
  }

  void set_base(std::unique_ptr<BaseDistribution<S>> base) {
    if (!base || base->dim() != dim_) throw ShapeError("FlowStack::set_base: base must have dimension " + std::to_string(dim_));
    base_ = std::move(base);
  }

  /// Standardise inputs with x' = (x − shift)/scale before the first layer.
  void set_preprocess(const RowVector<S>& shift, const RowVector<S>& scale) {
    Standardize<S> preprocess(shift, scale);
    if (preprocess.dim() != dim_) throw ShapeError("FlowStack::set_preprocess: expected size " + std::to_string(dim_));
    preprocess_ = std::move(preprocess);
  }
  void clear_preprocess() { preprocess_.reset(); }
  const std::optional<Standardize<S>>& preprocess() const { return preprocess_; }

  /// The integer-valued columns the flow was fitted to dequantised (strictly increasing).
  void set_dequantized(std::vector<Index> columns) {
    validate_dequantized_columns("FlowStack::set_dequantized", columns, dim_);
    dequantized_ = std::move(columns);
  }
  const std::vector<Index>& dequantized() const { return dequantized_; }

  Index dim() const { return dim_; }
  std::size_t size() const { return layers_.size(); }
  const Layer<S>& layer(std::size_t index) const { return *layers_.at(index); }
  Layer<S>& layer(std::size_t index) { return *layers_.at(index); }
  const BaseDistribution<S>& base() const { return *base_; }
  BaseDistribution<S>& base() { return *base_; }

  Transformed<S> forward(const Matrix<S>& x) const {
    check_input("FlowStack.forward", x);
    Transformed<S> result = preprocess_ ? preprocess_->forward(x) : Transformed<S>{x, ColumnVector<S>::Zero(x.rows())};
    for (const auto& layer : layers_) {
      Transformed<S> step = layer->forward(result.points);
      result.points = std::move(step.points);
      result.log_det += step.log_det;
    }
    return result;
  }

  Transformed<S> inverse(const Matrix<S>& z) const {
    check_input("FlowStack.inverse", z);
    Transformed<S> result{z, ColumnVector<S>::Zero(z.rows())};
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
      Transformed<S> step = (*it)->inverse(result.points);
      result.points = std::move(step.points);
      result.log_det += step.log_det;
    }
    if (preprocess_) {
      Transformed<S> step = preprocess_->inverse(result.points);
      result.points = std::move(step.points);
      result.log_det += step.log_det;
    }
    return result;
  }

  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x) {
    check_input("FlowStack.forward", x.value());
    TapedTransformed<S> result = preprocess_ ? preprocess_->forward(tape, x)
                                             : TapedTransformed<S>{x, tape.constant(Matrix<S>::Zero(x.rows(), 1))};
    for (auto& layer : layers_) {
      const TapedTransformed<S> step = layer->forward(tape, result.points);
      result = {step.points, add(result.log_det, step.log_det)};
    }
    return result;
  }

  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z) {
    check_input("FlowStack.inverse", z.value());
    TapedTransformed<S> result{z, tape.constant(Matrix<S>::Zero(z.rows(), 1))};
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
      const TapedTransformed<S> step = (*it)->inverse(tape, result.points);
      result = {step.points, add(result.log_det, step.log_det)};
    }
    if (preprocess_) {
      const TapedTransformed<S> step = preprocess_->inverse(tape, result.points);
      result = {step.points, add(result.log_det, step.log_det)};
    }
    return result;
  }

  /// The points before and after every layer: [x, f_1(x), f_2(f_1(x)), …, z]
  /// (with the standardised points second when there is a preprocess).
  std::vector<Matrix<S>> forward_trajectory(const Matrix<S>& x) const {
    check_input("FlowStack.forward_trajectory", x);
    std::vector<Matrix<S>> points{x};
    if (preprocess_) points.push_back(preprocess_->forward(x).points);
    for (const auto& layer : layers_) points.push_back(layer->forward(points.back()).points);
    return points;
  }

  /// The points of the sampling direction: [z, f_K⁻¹(z), …, x].
  std::vector<Matrix<S>> inverse_trajectory(const Matrix<S>& z) const {
    check_input("FlowStack.inverse_trajectory", z);
    std::vector<Matrix<S>> points{z};
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) points.push_back((*it)->inverse(points.back()).points);
    if (preprocess_) points.push_back(preprocess_->inverse(points.back()).points);
    return points;
  }

  /// Lets each layer initialise itself from its own inputs (Layer::initialize),
  /// passing the batch x through the stack layer by layer.
  void initialize(const Matrix<S>& x) {
    check_input("FlowStack.initialize", x);
    Matrix<S> points = preprocess_ ? preprocess_->forward(x).points : x;
    for (auto& layer : layers_) {
      layer->initialize(points);
      points = layer->forward(points).points;
    }
  }

  /// Every layer's parameters in order, then the base's.
  ParameterList<S> parameters() {
    ParameterList<S> list;
    for (auto& layer : layers_)
      for (auto* p : layer->parameters()) list.push_back(p);
    for (auto* p : base_->parameters()) list.push_back(p);
    return list;
  }

 private:
  void check_input(const char* where, const Matrix<S>& points) const {
    detail::require_columns(where, points, dim_);
    detail::require_finite(where, points);
  }

  Index dim_;
  std::unique_ptr<BaseDistribution<S>> base_;
  std::vector<std::unique_ptr<Layer<S>>> layers_;
  std::optional<Standardize<S>> preprocess_;
  std::vector<Index> dequantized_;
};

}  // namespace eigenflow
