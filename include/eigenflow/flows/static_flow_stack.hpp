// StaticFlowStack<L1, …, LK>: layers composed at compile time. The same
// verbs as FlowStack, with every call resolved statically (no virtual
// dispatch, no heap-held layers); the base is a standard normal. With layers
// conditioned on a context (all of one width), it is p(x | c) and every verb
// takes c too.
//   f = f_K ∘ … ∘ f_1,  log|det ∂f/∂x| = Σ_k log|det ∂f_k|
#pragma once

#include <algorithm>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "eigenflow/distributions/standard_normal.hpp"
#include "eigenflow/flows/flow_methods.hpp"

namespace eigenflow {

template <class First, class... Rest>
class StaticFlowStack : public FlowMethods<StaticFlowStack<First, Rest...>, typename First::Scalar> {
 public:
  using Scalar = typename First::Scalar;
  static_assert((std::is_same_v<Scalar, typename Rest::Scalar> && ...), "all layers must share one scalar type");
  static constexpr std::size_t size() { return 1 + sizeof...(Rest); }

  explicit StaticFlowStack(First first, Rest... rest)
      : layers_(std::move(first), std::move(rest)...), base_(std::get<0>(layers_).dim()) {
    std::apply(
        [this](const auto&... layer) {
          std::size_t index = 0;
          (check_dim(layer, index++), ...);
          context_dim_ = std::max({Index(0), layer.context_dim()...});
          index = 0;
          (check_context_dim(layer, index++), ...);
        },
        layers_);
  }

  Index dim() const { return base_.dim(); }
  /// The widest context a layer reads (the layers that read one agree on it; 0: unconditional).
  Index context_dim() const { return context_dim_; }
  /// Contexts reach the layers as given (no context standardisation here).
  const Matrix<Scalar>& context_features(const Matrix<Scalar>& c) const { return c; }
  const Var<Scalar>& context_features(Tape<Scalar>&, const Var<Scalar>& c) const { return c; }
  const StandardNormal<Scalar>& base() const { return base_; }
  StandardNormal<Scalar>& base() { return base_; }
  template <std::size_t I> const auto& layer() const { return std::get<I>(layers_); }
  template <std::size_t I> auto& layer() { return std::get<I>(layers_); }

  Transformed<Scalar> forward(const Matrix<Scalar>& x) const {
    check_input("StaticFlowStack.forward", x);
    Transformed<Scalar> result{x, ColumnVector<Scalar>::Zero(x.rows())};
    std::apply([&result](const auto&... layer) { (accumulate(result, layer.forward(result.points)), ...); }, layers_);
    return result;
  }
  Transformed<Scalar> forward(const Matrix<Scalar>& x, const Matrix<Scalar>& c) const {
    check_input("StaticFlowStack.forward", x, &c);
    Transformed<Scalar> result{x, ColumnVector<Scalar>::Zero(x.rows())};
    std::apply([&](const auto&... layer) { (accumulate(result, layer.forward(result.points, c)), ...); }, layers_);
    return result;
  }

  Transformed<Scalar> inverse(const Matrix<Scalar>& z) const {
    check_input("StaticFlowStack.inverse", z);
    Transformed<Scalar> result{z, ColumnVector<Scalar>::Zero(z.rows())};
    inverse_from<size()>(result, nullptr);
    return result;
  }
  Transformed<Scalar> inverse(const Matrix<Scalar>& z, const Matrix<Scalar>& c) const {
    check_input("StaticFlowStack.inverse", z, &c);
    Transformed<Scalar> result{z, ColumnVector<Scalar>::Zero(z.rows())};
    inverse_from<size()>(result, &c);
    return result;
  }

  TapedTransformed<Scalar> forward(Tape<Scalar>& tape, const Var<Scalar>& x) {
    check_input("StaticFlowStack.forward", x.value());
    TapedTransformed<Scalar> result{x, tape.constant(Matrix<Scalar>::Zero(x.rows(), 1))};
    std::apply([&](auto&... layer) { (accumulate(result, layer.forward(tape, result.points)), ...); }, layers_);
    return result;
  }
  TapedTransformed<Scalar> forward(Tape<Scalar>& tape, const Var<Scalar>& x, const Var<Scalar>& c) {
    check_input("StaticFlowStack.forward", x.value(), &c.value());
    TapedTransformed<Scalar> result{x, tape.constant(Matrix<Scalar>::Zero(x.rows(), 1))};
    std::apply([&](auto&... layer) { (accumulate(result, layer.forward(tape, result.points, c)), ...); }, layers_);
    return result;
  }

  /// As FlowStack::initialize: each layer initialises itself from its own inputs.
  void initialize(const Matrix<Scalar>& x) {
    check_input("StaticFlowStack.initialize", x);
    Matrix<Scalar> points = x;
    std::apply([&points](auto&... layer) { ((layer.initialize(points), points = layer.forward(points).points), ...); }, layers_);
  }
  void initialize(const Matrix<Scalar>& x, const Matrix<Scalar>& c) {
    check_input("StaticFlowStack.initialize", x, &c);
    Matrix<Scalar> points = x;
    std::apply([&](auto&... layer) { ((layer.initialize(points), points = layer.forward(points, c).points), ...); }, layers_);
  }

  /// As FlowStack::update_statistics: each BatchNorm layer's population statistics from its own inputs.
  bool has_statistics() const {
    return std::apply([](const auto&... layer) { return (layer.has_statistics() || ...); }, layers_);
  }
  void update_statistics(const Matrix<Scalar>& x, Communicator* communicator = nullptr) {
    check_input("StaticFlowStack.update_statistics", x);
    if (!has_statistics()) return;
    Matrix<Scalar> points = x;
    std::apply([&points, communicator](auto&... layer) { ((layer.update_statistics(points, communicator), points = layer.forward(points).points), ...); }, layers_);
  }
  void update_statistics(const Matrix<Scalar>& x, const Matrix<Scalar>& c, Communicator* communicator = nullptr) {
    check_input("StaticFlowStack.update_statistics", x, &c);
    if (!has_statistics()) return;
    Matrix<Scalar> points = x;
    std::apply([&](auto&... layer) { ((layer.update_statistics(points, communicator), points = layer.forward(points, c).points), ...); }, layers_);
  }

  ParameterList<Scalar> parameters() {
    ParameterList<Scalar> list;
    std::apply([&list](auto&... layer) { (append(list, layer.parameters()), ...); }, layers_);
    return list;
  }

 private:
  template <class L>
  void check_dim(const L& layer, std::size_t index) const {
    if (layer.dim() != base_.dim())
      throw ShapeError("StaticFlowStack: layer " + std::to_string(index) + " (" + layer.type() + ") has dimension " +
                       std::to_string(layer.dim()) + ", the first layer " + std::to_string(base_.dim()));
  }
  template <class L>
  void check_context_dim(const L& layer, std::size_t index) const {
    if (layer.context_dim() != 0 && layer.context_dim() != context_dim_)
      throw ShapeError("StaticFlowStack: layer " + std::to_string(index) + " (" + layer.type() + ") reads a context of " +
                       std::to_string(layer.context_dim()) + " columns, another layer one of " + std::to_string(context_dim_));
  }
  // The points, and the context when one is given; a conditional stack refuses a pass without one.
  void check_input(const char* where, const Matrix<Scalar>& points, const Matrix<Scalar>* c = nullptr) const {
    detail::require_columns(where, points, dim());
    detail::require_finite(where, points);
    if (c) detail::require_context(where, points, *c, context_dim_);
    else detail::require_unconditional(where, context_dim_);
  }
  static void accumulate(Transformed<Scalar>& result, Transformed<Scalar> step) {
    result.points = std::move(step.points);
    result.log_det += step.log_det;
  }
  static void accumulate(TapedTransformed<Scalar>& result, const TapedTransformed<Scalar>& step) {
    result = {step.points, add(result.log_det, step.log_det)};
  }
  static void append(ParameterList<Scalar>& list, const ParameterList<Scalar>& more) {
    list.insert(list.end(), more.begin(), more.end());
  }
  // Layers I-1, I-2, …, 0 inverted in that order.
  template <std::size_t I>
  void inverse_from(Transformed<Scalar>& result, const Matrix<Scalar>* c) const {
    if constexpr (I > 0) {
      const auto& layer = std::get<I - 1>(layers_);
      accumulate(result, c ? layer.inverse(result.points, *c) : layer.inverse(result.points));
      inverse_from<I - 1>(result, c);
    }
  }

  std::tuple<First, Rest...> layers_;
  StandardNormal<Scalar> base_;
  Index context_dim_ = 0;
};

}  // namespace eigenflow
