// Gradient-norm clipping, as torch.nn.utils.clip_grad_norm_:
//   n = ‖(g_1, …, g_P)‖₂;  if n > c: g ← g · c/(n + 1e-6)
#pragma once

#include <cmath>

#include "eigenflow/autodiff/parameter.hpp"

namespace eigenflow {

/// Scales all gradients so their joint L2 norm is at most max_norm; returns the norm before.
template <class S>
double clip_grad_norm(const ParameterList<S>& parameters, double max_norm) {
  double squared = 0;
  for (const auto* p : parameters) squared += static_cast<double>(p->grad.squaredNorm());
  const double norm = std::sqrt(squared);
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient < 1.0)
    for (auto* p : parameters) p->grad *= static_cast<S>(coefficient);
  return norm;
}

/// True when every gradient entry is finite.
template <class S>
bool gradients_finite(const ParameterList<S>& parameters) {
  for (const auto* p : parameters)
    if (!p->grad.allFinite()) return false;
  return true;
}

}  // namespace eigenflow
