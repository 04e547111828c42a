// What a continuous flow's dynamics compute at (z, t): the velocity f(z, t) and
// the trace of its Jacobian, exactly or by Hutchinson's estimator
//   tr(∂f/∂z) = E_ε[εᵀ(∂f/∂z)ε],  E[εεᵀ] = I  (Gaussian or Rademacher ε),
// and, for RNODE's regulariser, ‖∂f/∂z‖²_F (exactly, or ‖(∂f/∂z)ε‖² with the
// same probe). A dynamics type D offers
//   Index dim() const;  Index context_dim() const;  ParameterList<S> parameters();
//   template <class C> Bound<C> bind(C&) const;            // its parameters as C's Values, once per solve
//   template <class C> DynamicsEvaluation<C::Value> evaluate(C&, const Bound<C>&, const V& z, S t,
//                                                            const V* context, const TraceRequest<S>&) const;
// written once for plain matrices and tape Vars, so gradients of the trace
// itself (second derivatives of the network) come from the tape.
#pragma once

#include <vector>

#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/matrix_ops.hpp"

namespace eigenflow {

template <class S>
struct TraceRequest {
  const Matrix<S>* probe = nullptr;  ///< N x D Hutchinson probe ε; null: the exact trace
  bool jacobian = false;             ///< also ‖∂f/∂z‖²_F per row (estimated with the probe, if any)
};

template <class V>
struct DynamicsEvaluation {
  V velocity;  ///< f(z, t), N x D
  V trace;     ///< tr ∂f/∂z (or its estimate), N x 1
  V jacobian;  ///< ‖∂f/∂z‖²_F (or its estimate), N x 1, when asked
};

namespace detail {
/// [v_0 | v_1 | …] of equally tall Values.
template <class V>
V concat_all(const std::vector<V>& parts) {
  V out = parts.front();
  for (std::size_t j = 1; j < parts.size(); ++j) out = concat_columns(out, parts[j]);
  return out;
}
}  // namespace detail

}  // namespace eigenflow
