// FlowStack: layers composed at run time (what loading a model file needs).
//   f = f_K ∘ … ∘ f_1 (data → latent),  log|det ∂f/∂x| = Σ_k log|det ∂f_k|
// Layers are applied in the order they were added; inverse runs them backwards.
// An optional fixed standardisation runs before the first layer, so that
// densities and samples are in the caller's raw coordinates. A stack may also
// record which columns hold integers it was fitted to dequantised
// (flows/dequantization.hpp): log_prob stays the continuous density p, and
// quantize / dequantized_log_prob give samples and log-masses of P.
// A conditional stack (context_dim > 0) is p(x | c): every verb takes the
// context c too, which an optional fixed standardisation maps to the
// features its layers and base read.
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

  /// An empty stack (the identity) over R^dim with a standard normal base;
  /// context_dim > 0 makes it a conditional density p(x | c), c ∈ R^context_dim.
  explicit FlowStack(Index dim, Index context_dim = 0)
      : dim_(dim), context_dim_(context_dim), base_(std::make_unique<StandardNormal<S>>(dim)) {
    if (context_dim < 0) throw ValueError("FlowStack: context_dim must be non-negative, found " + std::to_string(context_dim));
  }

  FlowStack(const FlowStack& other)
      : dim_(other.dim_),
        context_dim_(other.context_dim_),
        base_(other.base_->clone()),
        preprocess_(other.preprocess_),
        context_preprocess_(other.context_preprocess_),
        dequantized_(other.dequantized_) {
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
    check_context_width("FlowStack::append: layer " + std::to_string(layers_.size()) + " (" + layer->type() + ")",
                        layer->context_dim());
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
    check_context_width("FlowStack::set_base: the base (" + base->type() + ")", base->context_dim());
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
  /// Columns of the context c of p(x | c) (0: an unconditional flow).
  Index context_dim() const { return context_dim_; }
  std::size_t size() const { return layers_.size(); }
  const Layer<S>& layer(std::size_t index) const { return *layers_.at(index); }
  Layer<S>& layer(std::size_t index) { return *layers_.at(index); }
  const BaseDistribution<S>& base() const { return *base_; }
  BaseDistribution<S>& base() { return *base_; }

  /// Standardise contexts with c' = (c − shift)/scale before any layer or the
  /// base sees them (fitted to the training contexts; no Jacobian: c is given).
  void set_context_preprocess(const RowVector<S>& shift, const RowVector<S>& scale) {
    Standardize<S> preprocess(shift, scale);
    if (preprocess.dim() != context_dim_)
      throw ShapeError("FlowStack::set_context_preprocess: expected size " + std::to_string(context_dim_));
    context_preprocess_ = std::move(preprocess);
  }
  const std::optional<Standardize<S>>& context_preprocess() const { return context_preprocess_; }
  /// What the layers and the base see of a context: c, standardised when the stack has a context preprocess.
  Matrix<S> context_features(const Matrix<S>& c) const {
    return context_preprocess_ ? context_preprocess_->forward(c).points : c;
  }
  Var<S> context_features(Tape<S>& tape, const Var<S>& c) {
    return context_preprocess_ ? context_preprocess_->forward(tape, c).points : c;
  }

  Transformed<S> forward(const Matrix<S>& x) const { return forward_pass(x, nullptr); }
  Transformed<S> inverse(const Matrix<S>& z) const { return inverse_pass(z, nullptr); }
  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x) { return forward_pass(tape, x, nullptr); }
  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z) { return inverse_pass(tape, z, nullptr); }
  /// The same given a context c (N x context_dim, one row per point, raw units).
  Transformed<S> forward(const Matrix<S>& x, const Matrix<S>& c) const {
    check_context("FlowStack.forward", x, c);
    const Matrix<S> features = context_features(c);
    return forward_pass(x, &features);
  }
  Transformed<S> inverse(const Matrix<S>& z, const Matrix<S>& c) const {
    check_context("FlowStack.inverse", z, c);
    const Matrix<S> features = context_features(c);
    return inverse_pass(z, &features);
  }
  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x, const Var<S>& c) {
    check_context("FlowStack.forward", x.value(), c.value());
    const Var<S> features = context_features(tape, c);
    return forward_pass(tape, x, &features);
  }
  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z, const Var<S>& c) {
    check_context("FlowStack.inverse", z.value(), c.value());
    const Var<S> features = context_features(tape, c);
    return inverse_pass(tape, z, &features);
  }

  /// The points before and after every layer: [x, f_1(x), f_2(f_1(x)), …, z]
  /// (with the standardised points second when there is a preprocess).
  std::vector<Matrix<S>> forward_trajectory(const Matrix<S>& x) const { return trajectory(x, nullptr, false); }
  std::vector<Matrix<S>> forward_trajectory(const Matrix<S>& x, const Matrix<S>& c) const {
    check_context("FlowStack.forward_trajectory", x, c);
    const Matrix<S> features = context_features(c);
    return trajectory(x, &features, false);
  }
  /// The points of the sampling direction: [z, f_K⁻¹(z), …, x].
  std::vector<Matrix<S>> inverse_trajectory(const Matrix<S>& z) const { return trajectory(z, nullptr, true); }
  std::vector<Matrix<S>> inverse_trajectory(const Matrix<S>& z, const Matrix<S>& c) const {
    check_context("FlowStack.inverse_trajectory", z, c);
    const Matrix<S> features = context_features(c);
    return trajectory(z, &features, true);
  }

  /// Lets each layer initialise itself from its own inputs (Layer::initialize),
  /// passing the batch x through the stack layer by layer.
  void initialize(const Matrix<S>& x) { initialize_pass(x, nullptr); }
  void initialize(const Matrix<S>& x, const Matrix<S>& c) {
    check_context("FlowStack.initialize", x, c);
    const Matrix<S> features = context_features(c);
    initialize_pass(x, &features);
  }

  /// Whether a layer keeps population statistics (BatchNorm).
  bool has_statistics() const {
    for (const auto& layer : layers_)
      if (layer->has_statistics()) return true;
    return false;
  }
  /// Sets each such layer's statistics from its own inputs over the data x
  /// (Layer::update_statistics), layer by layer in evaluation mode, so each
  /// layer sees what the ones before it give with their new statistics; does
  /// nothing (no pass) when no layer keeps any. With a communicator x is this
  /// rank's share and each layer's statistics are those of all ranks' inputs.
  void update_statistics(const Matrix<S>& x, Communicator* communicator = nullptr) { statistics_pass(x, nullptr, communicator); }
  void update_statistics(const Matrix<S>& x, const Matrix<S>& c, Communicator* communicator = nullptr) {
    check_context("FlowStack.update_statistics", x, c);
    if (!has_statistics()) return;
    const Matrix<S> features = context_features(c);
    statistics_pass(x, &features, communicator);
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
  void check_context_width(const std::string& what, Index width) const {
    if (width != 0 && width != context_dim_)
      throw ShapeError(what + " reads a context of " + std::to_string(width) + " columns, the stack's has " +
                       std::to_string(context_dim_));
  }
  void check_context(const char* where, const Matrix<S>& points, const Matrix<S>& c) const {
    detail::require_context(where, points, c, context_dim_);
  }

  // The passes, with c the context features (null: unconditional).
  template <class Points>
  static Transformed<S> apply(const Layer<S>& layer, const Points& points, const Matrix<S>* c, bool inverse) {
    if (inverse) return c ? layer.inverse(points, *c) : layer.inverse(points);
    return c ? layer.forward(points, *c) : layer.forward(points);
  }
  static TapedTransformed<S> apply(Tape<S>& tape, Layer<S>& layer, const Var<S>& points, const Var<S>* c, bool inverse) {
    if (inverse) return c ? layer.inverse(tape, points, *c) : layer.inverse(tape, points);
    return c ? layer.forward(tape, points, *c) : layer.forward(tape, points);
  }

  Transformed<S> forward_pass(const Matrix<S>& x, const Matrix<S>* c) const {
    check_input("FlowStack.forward", x);
    if (!c) detail::require_unconditional("FlowStack.forward", context_dim_);
    Transformed<S> result = preprocess_ ? preprocess_->forward(x) : Transformed<S>{x, ColumnVector<S>::Zero(x.rows())};
    for (const auto& layer : layers_) {
      Transformed<S> step = apply(*layer, result.points, c, false);
      result.points = std::move(step.points);
      result.log_det += step.log_det;
    }
    return result;
  }

  Transformed<S> inverse_pass(const Matrix<S>& z, const Matrix<S>* c) const {
    check_input("FlowStack.inverse", z);
    if (!c) detail::require_unconditional("FlowStack.inverse", context_dim_);
    Transformed<S> result{z, ColumnVector<S>::Zero(z.rows())};
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
      Transformed<S> step = apply(**it, result.points, c, true);
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

  TapedTransformed<S> forward_pass(Tape<S>& tape, const Var<S>& x, const Var<S>* c) {
    check_input("FlowStack.forward", x.value());
    if (!c) detail::require_unconditional("FlowStack.forward", context_dim_);
    TapedTransformed<S> result = preprocess_ ? preprocess_->forward(tape, x)
                                             : TapedTransformed<S>{x, tape.constant(Matrix<S>::Zero(x.rows(), 1))};
    for (auto& layer : layers_) {
      const TapedTransformed<S> step = apply(tape, *layer, result.points, c, false);
      result = {step.points, add(result.log_det, step.log_det)};
    }
    return result;
  }

  TapedTransformed<S> inverse_pass(Tape<S>& tape, const Var<S>& z, const Var<S>* c) {
    check_input("FlowStack.inverse", z.value());
    if (!c) detail::require_unconditional("FlowStack.inverse", context_dim_);
    TapedTransformed<S> result{z, tape.constant(Matrix<S>::Zero(z.rows(), 1))};
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
      const TapedTransformed<S> step = apply(tape, **it, result.points, c, true);
      result = {step.points, add(result.log_det, step.log_det)};
    }
    if (preprocess_) {
      const TapedTransformed<S> step = preprocess_->inverse(tape, result.points);
      result = {step.points, add(result.log_det, step.log_det)};
    }
    return result;
  }

  std::vector<Matrix<S>> trajectory(const Matrix<S>& start, const Matrix<S>* c, bool inverse) const {
    const char* where = inverse ? "FlowStack.inverse_trajectory" : "FlowStack.forward_trajectory";
    check_input(where, start);
    if (!c) detail::require_unconditional(where, context_dim_);
    std::vector<Matrix<S>> points{start};
    if (!inverse && preprocess_) points.push_back(preprocess_->forward(start).points);
    if (inverse)
      for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) points.push_back(apply(**it, points.back(), c, true).points);
    else
      for (const auto& layer : layers_) points.push_back(apply(*layer, points.back(), c, false).points);
    if (inverse && preprocess_) points.push_back(preprocess_->inverse(points.back()).points);
    return points;
  }

  void initialize_pass(const Matrix<S>& x, const Matrix<S>* c) {
    check_input("FlowStack.initialize", x);
    if (!c) detail::require_unconditional("FlowStack.initialize", context_dim_);
    Matrix<S> points = preprocess_ ? preprocess_->forward(x).points : x;
    for (auto& layer : layers_) {
      layer->initialize(points);
      points = apply(*layer, points, c, false).points;
    }
  }

  void statistics_pass(const Matrix<S>& x, const Matrix<S>* c, Communicator* communicator) {
    check_input("FlowStack.update_statistics", x);
    if (!c) detail::require_unconditional("FlowStack.update_statistics", context_dim_);
    if (!has_statistics()) return;
    std::size_t last = 0;  // no pass beyond the last layer that keeps statistics
    for (std::size_t k = 0; k < layers_.size(); ++k)
      if (layers_[k]->has_statistics()) last = k;
    Matrix<S> points = preprocess_ ? preprocess_->forward(x).points : x;
    for (std::size_t k = 0; k <= last; ++k) {
      layers_[k]->update_statistics(points, communicator);
      if (k < last) points = apply(*layers_[k], points, c, false).points;
    }
  }

  Index dim_;
  Index context_dim_ = 0;
  std::unique_ptr<BaseDistribution<S>> base_;
  std::vector<std::unique_ptr<Layer<S>>> layers_;
  std::optional<Standardize<S>> preprocess_;
  std::optional<Standardize<S>> context_preprocess_;
  std::vector<Index> dequantized_;
};

}  // namespace eigenflow
