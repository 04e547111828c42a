// Evaluation contexts: how a layer's math, written once as a template, reads
// its parameters. PlainContext hands out the matrices themselves (inference,
// no tape); TapeContext records them as leaves on a tape (training). Either may
// carry `given`, the context c of a conditional density p(x | c) (N x K), which
// network-based layers append to their conditioner's input; null when a pass
// is unconditional. `batch_statistics` marks a training pass: a batch-norm
// layer then normalises by the statistics of the pass's own rows.
//
//   template <class Context>
//   typename Context::Value f(Context& ctx, const typename Context::Value& x) const {
//     return tanh(linear(x, ctx.param(weight_), ctx.param(bias_)));
//   }
#pragma once

#include "eigenflow/autodiff/tape.hpp"

namespace eigenflow {

template <class S>
struct PlainContext {
  using Scalar = S;
  using Value = Matrix<S>;
  static constexpr bool taped = false;

  const Value* given = nullptr;
  bool batch_statistics = false;

  const Matrix<S>& param(const Parameter<S>& parameter) const { return parameter.value; }
  Value constant(const Matrix<S>& matrix) const { return matrix; }
};

template <class S>
struct TapeContext {
  using Scalar = S;
  using Value = Var<S>;
  static constexpr bool taped = true;

  Tape<S>& tape;
  const Value* given = nullptr;
  bool batch_statistics = false;

  /// Layers' math is const (it only reads parameters); backward is what writes
  /// the gradient, through the leaf this creates.
  Var<S> param(const Parameter<S>& parameter) { return tape.parameter(const_cast<Parameter<S>&>(parameter)); }
  Value constant(const Matrix<S>& matrix) { return tape.constant(matrix); }
};

}  // namespace eigenflow
