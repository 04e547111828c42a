// The interface every flow layer offers, and the adapter that derives it
// from a layer's math written once.
//
// Direction convention (seed 001): forward maps data x to latent z and
// returns log|det ∂z/∂x| per row; inverse maps z back to x and returns
// log|det ∂x/∂z| = −(forward log-det at x). A stack then gives
//   log p(x) = log p_base(f(x)) + Σ_layers log|det ∂f_k|.
// Conditional densities p(x | c): every verb also takes a context c (N x K, one
// row per point). A layer with a network (couplings, autoregressive layers)
// appends c to its conditioner's input, z = f(x; c), and has context_dim() = K;
// a layer without one (LeakyReLU, planar, ActNorm, ...) ignores c. A layer
// with context_dim() > 0 refuses a call without a context.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "eigenflow/autodiff/context.hpp"
#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/matrix_ops.hpp"
#include "eigenflow/train/communicator.hpp"

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

  /// Columns of the context c this layer is conditioned on (0: none).
  virtual Index context_dim() const { return 0; }
  /// The four verbs given a context c (N x context_dim(), or any width when the
  /// layer ignores it): z = f(x; c) and x = f⁻¹(z; c). By default a layer
  /// ignores c (a user's own layer without a network need not write these).
  virtual Transformed<S> forward(const Matrix<S>& x, const Matrix<S>& context) const {
    (void)context;
    return forward(x);
  }
  virtual Transformed<S> inverse(const Matrix<S>& z, const Matrix<S>& context) const {
    (void)context;
    return inverse(z);
  }
  virtual TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x, const Var<S>& context) {
    (void)context;
    return forward(tape, x);
  }
  virtual TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z, const Var<S>& context) {
    (void)context;
    return inverse(tape, z);
  }

  /// The trainable parameters, in a fixed order (optimizers key their state by it).
  virtual ParameterList<S> parameters() = 0;
  /// Data-dependent initialisation from a batch of this layer's inputs, once
  /// (ActNorm); every other layer ignores it. The trainer calls it through the
  /// stack with its first batch.
  virtual void initialize(const Matrix<S>& inputs) { (void)inputs; }
  /// Whether the layer keeps population statistics of its inputs (BatchNorm),
  /// which update_statistics sets from the training data: the trainer then
  /// calls it through the stack whenever the parameters it evaluates change.
  /// With a communicator the inputs are this rank's share and the statistics
  /// those of every rank's inputs together (a collective call).
  virtual bool has_statistics() const { return false; }
  virtual void update_statistics(const Matrix<S>& inputs, Communicator* communicator = nullptr) {
    (void)inputs;
    (void)communicator;
  }
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
  Transformed<S> forward(const Matrix<S>& x, const Matrix<S>& context) const final;
  Transformed<S> inverse(const Matrix<S>& z, const Matrix<S>& context) const final;
  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x, const Var<S>& context) final;
  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z, const Var<S>& context) final;
  std::unique_ptr<Layer<S>> clone() const final { return std::make_unique<Derived>(derived()); }

 private:
  const Derived& derived() const { return static_cast<const Derived&>(*this); }
  // One pass of the math, either direction, with the context c (null: none).
  Transformed<S> pass(const Matrix<S>& v, const Matrix<S>* c, bool inverse) const;
  TapedTransformed<S> pass(Tape<S>& tape, const Var<S>& v, const Var<S>* c, bool inverse);
  void check_columns(const char* verb, const Matrix<S>& points) const {
    if (points.cols() != this->dim())
      detail::throw_wrong_columns(this->type() + "." + verb, points.rows(), points.cols(), this->dim());
  }
  void check_context(const char* verb, const Matrix<S>& points, const Matrix<S>& context) const {
    check_columns(verb, points);
    const Index width = this->context_dim();
    if (width > 0 && (context.rows() != points.rows() || context.cols() != width))
      throw ShapeError(this->type() + "." + verb + ": expected a context of " +
                       detail::shape_string(points.rows(), width) + " (one row per point), found " +
                       detail::shape_string(context.rows(), context.cols()));
  }
};

// The verbs are defined out of the class, so not inline: a translation unit
// that sees them declared `extern template` (eigenflow/prebuilt.hpp) leaves
// them, and all the layer math under them, to the prebuilt library even
// where it calls a concrete layer directly.
template <class Derived, class S>
Transformed<S> LayerBase<Derived, S>::forward(const Matrix<S>& x) const {
  check_columns("forward", x);
  return pass(x, nullptr, false);
}
template <class Derived, class S>
Transformed<S> LayerBase<Derived, S>::inverse(const Matrix<S>& z) const {
  check_columns("inverse", z);
  return pass(z, nullptr, true);
}
template <class Derived, class S>
TapedTransformed<S> LayerBase<Derived, S>::forward(Tape<S>& tape, const Var<S>& x) {
  check_columns("forward", x.value());
  return pass(tape, x, nullptr, false);
}
template <class Derived, class S>
TapedTransformed<S> LayerBase<Derived, S>::inverse(Tape<S>& tape, const Var<S>& z) {
  check_columns("inverse", z.value());
  return pass(tape, z, nullptr, true);
}
template <class Derived, class S>
Transformed<S> LayerBase<Derived, S>::forward(const Matrix<S>& x, const Matrix<S>& c) const {
  check_context("forward", x, c);
  return pass(x, &c, false);
}
template <class Derived, class S>
Transformed<S> LayerBase<Derived, S>::inverse(const Matrix<S>& z, const Matrix<S>& c) const {
  check_context("inverse", z, c);
  return pass(z, &c, true);
}
template <class Derived, class S>
TapedTransformed<S> LayerBase<Derived, S>::forward(Tape<S>& tape, const Var<S>& x, const Var<S>& c) {
  check_context("forward", x.value(), c.value());
  return pass(tape, x, &c, false);
}
template <class Derived, class S>
TapedTransformed<S> LayerBase<Derived, S>::inverse(Tape<S>& tape, const Var<S>& z, const Var<S>& c) {
  check_context("inverse", z.value(), c.value());
  return pass(tape, z, &c, true);
}

template <class Derived, class S>
Transformed<S> LayerBase<Derived, S>::pass(const Matrix<S>& v, const Matrix<S>* c, bool inverse) const {
  PlainContext<S> context;
  context.given = c;
  auto [points, log_det] = inverse ? derived().inverse_math(context, v) : derived().forward_math(context, v);
  return {std::move(points), std::move(log_det)};
}
template <class Derived, class S>
TapedTransformed<S> LayerBase<Derived, S>::pass(Tape<S>& tape, const Var<S>& v, const Var<S>* c, bool inverse) {
  TapeContext<S> context{tape};
  context.given = c;
  context.batch_statistics = tape.batch_statistics();
  auto [points, log_det] = inverse ? derived().inverse_math(context, v) : derived().forward_math(context, v);
  return {points, log_det};
}

namespace detail {
/// The pass's context c, for a layer conditioned on context_dim columns; refused when the pass has none.
template <class Context>
const typename Context::Value& given_context(const Context& context, Index context_dim, const char* where) {
  if (!context.given)
    throw ShapeError(std::string(where) + ": this layer is conditioned on a context of " + std::to_string(context_dim) +
                     " columns; none given");
  return *context.given;
}

/// A conditioner network's input: [v | c] with the pass's context c appended
/// when the layer takes one (context_dim > 0), v itself otherwise (taken by
/// value and moved back: the unconditional path copies nothing).
template <class Context>
typename Context::Value with_context(const Context& context, typename Context::Value v, Index context_dim,
                                     const char* where) {
  if (context_dim == 0) return v;
  return concat_columns(v, given_context(context, context_dim, where));
}

/// A column of zeros shaped like one log-det per row of x, as a Value.
template <class Context>
typename Context::Value zero_log_det(Context& context, const typename Context::Value& x) {
  using S = typename Context::Scalar;
  return context.constant(Matrix<S>::Zero(value_of(x).rows(), 1));
}
}  // namespace detail

}  // namespace eigenflow
