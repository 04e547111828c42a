// Activation functions between the dense layers of a conditioner network.
// Formulas live in core/functions.hpp; this maps names to them.
//   relu max(x,0) · leaky_relu slope 0.01 · tanh · elu · silu x·σ(x)
//   gelu x·Φ(x) (exact, erf) · gelu_tanh (tanh approximation)
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "eigenflow/core/error.hpp"

namespace eigenflow {

enum class Activation { relu, leaky_relu, tanh, elu, silu, gelu, gelu_tanh };

namespace detail {
inline constexpr std::array<std::pair<Activation, std::string_view>, 7> activation_names{{
    {Activation::relu, "relu"},
    {Activation::leaky_relu, "leaky_relu"},
    {Activation::tanh, "tanh"},
    {Activation::elu, "elu"},
    {Activation::silu, "silu"},
    {Activation::gelu, "gelu"},
    {Activation::gelu_tanh, "gelu_tanh"},
}};
}  // namespace detail

inline std::string_view to_string(Activation activation) {
  for (const auto& [value, name] : detail::activation_names)
    if (value == activation) return name;
  return "unknown";
}

/// Parses "relu", "gelu", ...; throws ValueError listing the valid names.
inline Activation parse_activation(std::string_view name) {
  std::string valid;
  for (const auto& [value, known] : detail::activation_names) {
    if (known == name) return value;
    valid += (valid.empty() ? "" : ", ") + std::string(known);
  }
  throw ValueError("unknown activation '" + std::string(name) + "' (expected one of: " + valid + ")");
}

/// Applies an activation to a Matrix or a tape Var.
template <class Value>
Value activate(const Value& x, Activation activation) {
  using Scalar = typename std::decay_t<decltype(value_of(x))>::Scalar;
  switch (activation) {
    case Activation::relu: return relu(x);
    case Activation::leaky_relu: return leaky_relu(x, Scalar(0.01));
    case Activation::tanh: return tanh(x);
    case Activation::elu: return elu(x);
    case Activation::silu: return silu(x);
    case Activation::gelu: return gelu(x);
    case Activation::gelu_tanh: return gelu_tanh(x);
  }
  throw ValueError("activate: invalid Activation value");
}

}  // namespace eigenflow
