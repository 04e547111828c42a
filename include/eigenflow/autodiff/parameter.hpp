// A trainable matrix that lives off the tape: its value persists across
// steps, the tape only borrows it as a leaf each step and adds the leaf's
// adjoint into `grad` during backward.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "eigenflow/core/types.hpp"

namespace eigenflow {

template <class Scalar>
struct Parameter {
  static_assert(is_supported_scalar_v<Scalar>, "eigenflow supports float and double");

  std::string name;
  Matrix<Scalar> value;
  Matrix<Scalar> grad;

  Parameter() = default;
  Parameter(std::string parameter_name, Matrix<Scalar> initial)
      : name(std::move(parameter_name)),
        value(std::move(initial)),
        grad(Matrix<Scalar>::Zero(value.rows(), value.cols())) {}

  Index size() const { return value.size(); }

  /// Sets grad to zeros of value's shape (re-shaping it if value was replaced).
  void zero_grad() { grad.setZero(value.rows(), value.cols()); }
};

template <class Scalar>
using ParameterList = std::vector<Parameter<Scalar>*>;

template <class Scalar>
void zero_grad(const ParameterList<Scalar>& parameters) {
  for (auto* parameter : parameters) parameter->zero_grad();
}

/// Total number of scalars in a parameter list.
template <class Scalar>
Index parameter_count(const ParameterList<Scalar>& parameters) {
  Index count = 0;
  for (const auto* parameter : parameters) count += parameter->size();
  return count;
}

}  // namespace eigenflow
