// The interface every flow layer offers, and the adapter that derives it
// from a layer's math written once.
//
// Direction convention (seed 001): forward maps data x to latent z and
// returns log|det ∂z/∂x| per row; inverse maps z back to x and returns
// log|det ∂x/∂z| = −(forward log-det at x). A stack then gives
//   log p(x) = log p_base(f(x)) + Σ_layers log|det ∂f_k|.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "eigenflow/autodiff/context.hpp"
#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/matrix_ops.hpp"

namespace eigenflow {

/// Points after a transform, with one log-det per row (N x 1).
template <class S>
struct Transformed {
  Matrix<S> points;
  ColumnVector<S> log_det;
};

/// The same on a tape.
template <class S>
struct TapedTransformed {
  Var<S> points;
  Var<S> log_det;
};

/// A flow layer: a bijection of R^D with a tractable log-det.
template <class S>
class Layer {
  static_assert(is_supported_scalar_v<S>, "eigenflow supports float and double");

 public:
  using Scalar = S;
  virtual ~Layer() = default;

  virtual Index dim() const = 0;
  /// Name of the layer type, as in model files ("affine_coupling", "planar", ...).
  virtual std::string type() const = 0;

  /// x (N x D) -> z, log|det ∂z/∂x| per row.
  virtual Transformed<S> forward(const Matrix<S>& x) const = 0;
  /// z (N x D) -> x, log|det ∂x/∂z| per row.
  virtual Transformed<S> inverse(const Matrix<S>& z) const = 0;
  /// forward and inverse recorded on a tape, for training.
  virtual TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x) = 0;
  virtual TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z) = 0;

  /// The trainable parameters, in a fixed order (optimizers key their state by it).
  virtual ParameterList<S> parameters() = 0;
  /// Data-dependent initialisation from a batch of this layer's inputs, once
  /// (ActNorm); every other layer ignores it. The trainer calls it through the
  /// stack with its first batch.
  virtual void initialize(const Matrix<S>& inputs) { (void)inputs; }
  virtual std::unique_ptr<Layer<S>> clone() const = 0;

 protected:
  Layer() = default;
  Layer(const Layer&) = default;
  Layer& operator=(const Layer&) = default;
};

/// Implements Layer's verbs from Derived's two templates, written once for
/// matrices and tape Vars alike:
///   template <class C> std::pair<typename C::Value, typename C::Value> forward_math(C&, const typename C::Value& x) const;
///   template <class C> std::pair<typename C::Value, typename C::Value> inverse_math(C&, const typename C::Value& z) const;
template <class Derived, class S>
class LayerBase : public Layer<S> {
 public:
  Transformed<S> forward(const Matrix<S>& x) const final;
  Transformed<S> inverse(const Matrix<S>& z) const final;
  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x) final;
  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z) final;
  std::unique_ptr<Layer<S>> clone() const final { return std::make_unique<Derived>(derived()); }

 private:
  const Derived& derived() const { return static_cast<const Derived&>(*this); }
  void check_columns(const char* verb, const Matrix<S>& points) const {
    if (points.cols() != this->dim())
      detail::throw_wrong_columns(this->type() + "." + verb, points.rows(), points.cols(), this->dim());
  }
};

// The verbs are defined out of the class, so not inline: a translation unit
// that sees them declared `extern template` (eigenflow/prebuilt.hpp) leaves
// them, and all the layer math under them, to the prebuilt library even
// where it calls a concrete layer directly.
template <class Derived, class S>
Transformed<S> LayerBase<Derived, S>::forward(const Matrix<S>& x) const {
  check_columns("forward", x);
  PlainContext<S> context;
  auto [points, log_det] = derived().forward_math(context, x);
  return {std::move(points), std::move(log_det)};
}
template <class Derived, class S>
Transformed<S> LayerBase<Derived, S>::inverse(const Matrix<S>& z) const {
  check_columns("inverse", z);
  PlainContext<S> context;
  auto [points, log_det] = derived().inverse_math(context, z);
  return {std::move(points), std::move(log_det)};
}
template <class Derived, class S>
TapedTransformed<S> LayerBase<Derived, S>::forward(Tape<S>& tape, const Var<S>& x) {
  check_columns("forward", x.value());
  TapeContext<S> context{tape};
  auto [points, log_det] = derived().forward_math(context, x);
  return {points, log_det};
}
template <class Derived, class S>
TapedTransformed<S> LayerBase<Derived, S>::inverse(Tape<S>& tape, const Var<S>& z) {
  check_columns("inverse", z.value());
  TapeContext<S> context{tape};
  auto [points, log_det] = derived().inverse_math(context, z);
  return {points, log_det};
}

namespace detail {
/// A column of zeros shaped like one log-det per row of x, as a Value.
template <class Context>
typename Context::Value zero_log_det(Context& context, const typename Context::Value& x) {
  using S = typename Context::Scalar;
  return context.constant(Matrix<S>::Zero(value_of(x).rows(), 1));
}
}  // namespace detail

}  // namespace eigenflow
