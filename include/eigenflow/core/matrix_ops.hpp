// The plain (untaped) twin of the op set in autodiff/ops.hpp: the same names
// on Matrix values, so that a layer's math, written once as a template over
// the value type, runs on matrices for inference and on tape Vars for
// training. Elementwise formulas come from core/functions.hpp, broadcasting
// from core/broadcast.hpp: both paths share them.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "eigenflow/core/broadcast.hpp"
#include "eigenflow/core/functions.hpp"
#include "eigenflow/core/gemm.hpp"
#include "eigenflow/core/types.hpp"

namespace eigenflow {
namespace detail {

template <class F, class Scalar>
Matrix<Scalar> unary(const Matrix<Scalar>& x) {
  Matrix<Scalar> y;
  fn::evaluate<F>(x, y);
  return y;
}

template <BinaryKind kind, class Scalar>
Matrix<Scalar> binary(const char* op, const Matrix<Scalar>& a, const Matrix<Scalar>& b) {
  const auto [rows, cols] = broadcast_shape(op, a, b);
  Matrix<Scalar> out(rows, cols);
  apply_binary<kind>(out, a, b);
  return out;
}

template <class Scalar>
void require_linear_shapes(const Matrix<Scalar>& x, const Matrix<Scalar>& weight, const Matrix<Scalar>& bias) {
  if (x.cols() != weight.cols()) throw_shape_mismatch("linear (x vs weight)", x, weight);
  if (bias.rows() != 1 || bias.cols() != weight.rows()) throw_shape_mismatch("linear (weight vs bias)", weight, bias);
}

/// out = x · Wᵀ + b, or relu(x · Wᵀ + b): the one definition of a dense layer's value.
template <class Scalar>
void linear_into(Matrix<Scalar>& out, const Matrix<Scalar>& x, const Matrix<Scalar>& weight, const Matrix<Scalar>& bias,
                 bool relu = false) {
  out.resize(x.rows(), weight.rows());
  gemm_bias(out, x, false, weight, true, bias, relu);
}

/// out (N x 1, sized by the caller) = log Σ_j exp(x_ij), with the row maximum taken out first.
template <class Scalar>
void row_logsumexp_into(Matrix<Scalar>& out, const Matrix<Scalar>& x) {
  if (x.cols() == 0) throw ShapeError("row_logsumexp: a matrix without columns");
  for (Index i = 0; i < x.rows(); ++i) {
    const Scalar top = x.row(i).maxCoeff();
    out(i, 0) = std::isinf(top) ? top : top + std::log((x.row(i).array() - top).exp().sum());
  }
}

}  // namespace detail

template <class Scalar> Matrix<Scalar> add(const Matrix<Scalar>& a, const Matrix<Scalar>& b) { return detail::binary<detail::BinaryKind::add>("add", a, b); }
template <class Scalar> Matrix<Scalar> sub(const Matrix<Scalar>& a, const Matrix<Scalar>& b) { return detail::binary<detail::BinaryKind::subtract>("sub", a, b); }
template <class Scalar> Matrix<Scalar> mul(const Matrix<Scalar>& a, const Matrix<Scalar>& b) { return detail::binary<detail::BinaryKind::multiply>("mul", a, b); }
template <class Scalar> Matrix<Scalar> div(const Matrix<Scalar>& a, const Matrix<Scalar>& b) { return detail::binary<detail::BinaryKind::divide>("div", a, b); }

/// factor * x + offset.
template <class Scalar>
Matrix<Scalar> affine(const Matrix<Scalar>& x, Scalar factor, Scalar offset) {
  return (factor * x.array() + offset).matrix();
}
template <class Scalar> Matrix<Scalar> scale(const Matrix<Scalar>& x, Scalar factor) { return factor * x; }
template <class Scalar> Matrix<Scalar> add_scalar(const Matrix<Scalar>& x, Scalar offset) { return (x.array() + offset).matrix(); }

template <class Scalar> Matrix<Scalar> exp(const Matrix<Scalar>& x) { return detail::unary<fn::Exp>(x); }
template <class Scalar> Matrix<Scalar> log(const Matrix<Scalar>& x) { return detail::unary<fn::Log>(x); }
template <class Scalar> Matrix<Scalar> log1p(const Matrix<Scalar>& x) { return detail::unary<fn::Log1p>(x); }
template <class Scalar> Matrix<Scalar> sqrt(const Matrix<Scalar>& x) { return detail::unary<fn::Sqrt>(x); }
template <class Scalar> Matrix<Scalar> square(const Matrix<Scalar>& x) { return detail::unary<fn::Square>(x); }
template <class Scalar> Matrix<Scalar> abs(const Matrix<Scalar>& x) { return detail::unary<fn::Abs>(x); }
template <class Scalar> Matrix<Scalar> sin(const Matrix<Scalar>& x) { return detail::unary<fn::Sin>(x); }
template <class Scalar> Matrix<Scalar> cos(const Matrix<Scalar>& x) { return detail::unary<fn::Cos>(x); }
template <class Scalar> Matrix<Scalar> tanh(const Matrix<Scalar>& x) { return detail::unary<fn::Tanh>(x); }
template <class Scalar> Matrix<Scalar> sigmoid(const Matrix<Scalar>& x) { return detail::unary<fn::Sigmoid>(x); }
template <class Scalar> Matrix<Scalar> softplus(const Matrix<Scalar>& x) { return detail::unary<fn::Softplus>(x); }
template <class Scalar> Matrix<Scalar> relu(const Matrix<Scalar>& x) { return detail::unary<fn::Relu>(x); }
template <class Scalar> Matrix<Scalar> elu(const Matrix<Scalar>& x) { return detail::unary<fn::Elu>(x); }
template <class Scalar> Matrix<Scalar> silu(const Matrix<Scalar>& x) { return detail::unary<fn::Silu>(x); }
template <class Scalar> Matrix<Scalar> gelu(const Matrix<Scalar>& x) { return detail::unary<fn::Gelu>(x); }
template <class Scalar> Matrix<Scalar> gelu_tanh(const Matrix<Scalar>& x) { return detail::unary<fn::GeluTanh>(x); }
template <class Scalar> Matrix<Scalar> is_negative(const Matrix<Scalar>& x) { return detail::unary<fn::IsNegative>(x); }

/// x for x > 0, negative_slope * x otherwise.
template <class Scalar>
Matrix<Scalar> leaky_relu(const Matrix<Scalar>& x, Scalar negative_slope) {
  return (x.array() > Scalar(0)).select(x, negative_slope * x);
}

template <class Scalar>
Matrix<Scalar> matmul(const Matrix<Scalar>& a, const Matrix<Scalar>& b) {
  if (a.cols() != b.rows()) detail::throw_shape_mismatch("matmul", a, b);
  return a * b;
}
template <class Scalar> Matrix<Scalar> transpose(const Matrix<Scalar>& x) { return x.transpose(); }

/// y = x · Wᵀ + b (W out x in, b 1 x out).
template <class Scalar>
Matrix<Scalar> linear(const Matrix<Scalar>& x, const Matrix<Scalar>& weight, const Matrix<Scalar>& bias) {
  detail::require_linear_shapes(x, weight, bias);
  Matrix<Scalar> out;
  detail::linear_into(out, x, weight, bias);
  return out;
}

/// relu(x · Wᵀ + b): the plain twin of the taped fused layer.
template <class Scalar>
Matrix<Scalar> linear_relu(const Matrix<Scalar>& x, const Matrix<Scalar>& weight, const Matrix<Scalar>& bias) {
  detail::require_linear_shapes(x, weight, bias);
  Matrix<Scalar> out;
  detail::linear_into(out, x, weight, bias, true);
  return out;
}

template <class Scalar> Matrix<Scalar> sum(const Matrix<Scalar>& x) { return Matrix<Scalar>::Constant(1, 1, x.sum()); }
template <class Scalar> Matrix<Scalar> mean(const Matrix<Scalar>& x) { return Matrix<Scalar>::Constant(1, 1, x.mean()); }
template <class Scalar> Matrix<Scalar> row_sums(const Matrix<Scalar>& x) { return x.rowwise().sum(); }
template <class Scalar> Matrix<Scalar> row_means(const Matrix<Scalar>& x) { return x.rowwise().mean(); }
template <class Scalar> Matrix<Scalar> column_sums(const Matrix<Scalar>& x) { return x.colwise().sum(); }
template <class Scalar> Matrix<Scalar> column_means(const Matrix<Scalar>& x) { return x.colwise().mean(); }

template <class Scalar>
Matrix<Scalar> columns(const Matrix<Scalar>& x, Index first, Index count) {
  if (first < 0 || count < 0 || first + count > x.cols())
    throw ShapeError("columns: range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                     ") is outside a matrix of shape " + detail::shape_string(x.rows(), x.cols()));
  return x.middleCols(first, count);
}

template <class Scalar>
Matrix<Scalar> concat_columns(const Matrix<Scalar>& a, const Matrix<Scalar>& b) {
  if (a.rows() != b.rows()) detail::throw_shape_mismatch("concat_columns", a, b);
  Matrix<Scalar> out(a.rows(), a.cols() + b.cols());
  out << a, b;
  return out;
}

template <class Scalar, class Derived>
Matrix<Scalar> mask_multiply(const Matrix<Scalar>& x, const Eigen::MatrixBase<Derived>& mask) {
  const auto shape = detail::broadcast_shape("mask_multiply", x, mask);
  if (shape.first != x.rows() || shape.second != x.cols()) detail::throw_shape_mismatch("mask_multiply", x, mask);
  Matrix<Scalar> out(x.rows(), x.cols());
  detail::apply_binary<detail::BinaryKind::multiply>(out, x, mask.template cast<Scalar>().eval());
  return out;
}

template <class Scalar>
Matrix<Scalar> row_dot(const Matrix<Scalar>& a, const Matrix<Scalar>& b) {
  if (!detail::same_shape(a, b)) detail::throw_shape_mismatch("row_dot", a, b);
  return a.cwiseProduct(b).rowwise().sum();
}

/// Each row's Euclidean norm ‖x_i‖ (N x 1).
template <class Scalar>
Matrix<Scalar> row_norms(const Matrix<Scalar>& x) { return x.rowwise().norm(); }

/// Each row's log Σ_j exp(x_ij) (N x 1), shifted by the row maximum so nothing overflows.
template <class Scalar>
Matrix<Scalar> row_logsumexp(const Matrix<Scalar>& x) {
  Matrix<Scalar> out(x.rows(), 1);
  detail::row_logsumexp_into(out, x);
  return out;
}

template <class Scalar>
Matrix<Scalar> gather_columns(const Matrix<Scalar>& x, const std::vector<Index>& indices) {
  Matrix<Scalar> out(x.rows(), static_cast<Index>(indices.size()));
  for (std::size_t j = 0; j < indices.size(); ++j) {
    if (indices[j] < 0 || indices[j] >= x.cols())
      throw ShapeError("gather_columns: column index " + std::to_string(indices[j]) + " outside 0.." +
                       std::to_string(x.cols() - 1));
    out.col(static_cast<Index>(j)) = x.col(indices[j]);
  }
  return out;
}

}  // namespace eigenflow
