// The op set of the tape. Each op computes its value into a tape node and
// registers the backward rule written right beside it.
//
// Elementwise binary ops broadcast NumPy-style over the two dimensions: each
// operand dimension equals the result's or is 1 (a 1xD bias over N rows, an
// Nx1 per-row value over D columns, a 1x1 scalar over anything). Backward sums
// the adjoint back down to each operand's shape.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "eigenflow/autodiff/tape.hpp"
#include "eigenflow/core/functions.hpp"
#include "eigenflow/core/gemm_kernel.hpp"
#include "eigenflow/core/matrix_ops.hpp"

namespace eigenflow {
namespace detail {

template <class Scalar>
using TapeNode = typename Tape<Scalar>::Node;

template <class Scalar>
void require_same_tape(const char* op, const Var<Scalar>& a, const Var<Scalar>& b) {
  if (&a.tape() != &b.tape()) throw Error(std::string(op) + ": operands live on different tapes");
}

// ---- elementwise unary: y = F(x), dx += dy * F'(x, y) ----------------------
template <class F, class Scalar>
void unary_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& input = tape.node(node.input[0]);
  fn::accumulate_derivative<F>(input.value, node.value, node.adjoint, input.adjoint);
}

template <class F, class Scalar>
Var<Scalar> unary(const Var<Scalar>& x) {
  Tape<Scalar>& tape = x.tape();
  auto& node = tape.push(x.rows(), x.cols(), &unary_backward<F, Scalar>);
  node.input[0] = x.index();
  fn::evaluate<F>(x.value(), node.value);
  return tape.last();
}

// ---- elementwise binary with broadcasting ------------------------------------
template <BinaryKind kind, class Scalar>
void binary_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& a = tape.node(node.input[0]);
  auto& b = tape.node(node.input[1]);
  const auto& dy = node.adjoint;
  if constexpr (kind == BinaryKind::add) {
    accumulate_reduced(a.adjoint, dy);
    accumulate_reduced(b.adjoint, dy);
  } else if constexpr (kind == BinaryKind::subtract) {
    accumulate_reduced(a.adjoint, dy);
    accumulate_reduced(b.adjoint, -dy);
  } else if (same_shape(a.value, b.value)) {
    if constexpr (kind == BinaryKind::multiply) {
      a.adjoint.array() += dy.array() * b.value.array();
      b.adjoint.array() += dy.array() * a.value.array();
    } else {  // y = a / b:  da += dy / b,  db -= dy * y / b
      a.adjoint.array() += dy.array() / b.value.array();
      b.adjoint.array() -= dy.array() * node.value.array() / b.value.array();
    }
  } else {
    const Index rows = node.value.rows();
    for (Index j = 0; j < node.value.cols(); ++j) {
      const auto dy_j = dy.col(j).array();
      if constexpr (kind == BinaryKind::multiply) {
        with_broadcast_column(b.value, j, rows, [&](const auto& b_j) { accumulate_column(a.adjoint, j, dy_j * b_j); });
        with_broadcast_column(a.value, j, rows, [&](const auto& a_j) { accumulate_column(b.adjoint, j, dy_j * a_j); });
      } else {
        with_broadcast_column(b.value, j, rows, [&](const auto& b_j) {
          accumulate_column(a.adjoint, j, dy_j / b_j);
          accumulate_column(b.adjoint, j, -dy_j * node.value.col(j).array() / b_j);
        });
      }
    }
  }
}

template <BinaryKind kind, class Scalar>
Var<Scalar> binary(const char* op, const Var<Scalar>& a, const Var<Scalar>& b) {
  require_same_tape(op, a, b);
  const auto [rows, cols] = broadcast_shape(op, a.value(), b.value());
  Tape<Scalar>& tape = a.tape();
  auto& node = tape.push(rows, cols, &binary_backward<kind, Scalar>);
  node.input = {a.index(), b.index()};
  apply_binary<kind>(node.value, a.value(), b.value());
  return tape.last();
}

}  // namespace detail

// ---- arithmetic ----------------------------------------------------------------

/// a + b (broadcasting).
template <class Scalar>
Var<Scalar> add(const Var<Scalar>& a, const Var<Scalar>& b) {
  return detail::binary<detail::BinaryKind::add>("add", a, b);
}
/// a - b (broadcasting).
template <class Scalar>
Var<Scalar> sub(const Var<Scalar>& a, const Var<Scalar>& b) {
  return detail::binary<detail::BinaryKind::subtract>("sub", a, b);
}
/// a ⊙ b (broadcasting).
template <class Scalar>
Var<Scalar> mul(const Var<Scalar>& a, const Var<Scalar>& b) {
  return detail::binary<detail::BinaryKind::multiply>("mul", a, b);
}
/// a ⊘ b (broadcasting).
template <class Scalar>
Var<Scalar> div(const Var<Scalar>& a, const Var<Scalar>& b) {
  return detail::binary<detail::BinaryKind::divide>("div", a, b);
}

namespace detail {
template <class Scalar>
void affine_scalar_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  tape.node(node.input[0]).adjoint += node.scalar[0] * node.adjoint;
}
}  // namespace detail

/// factor * x + offset for constants factor and offset.
template <class Scalar>
Var<Scalar> affine(const Var<Scalar>& x, Scalar factor, Scalar offset) {
  Tape<Scalar>& tape = x.tape();
  auto& node = tape.push(x.rows(), x.cols(), &detail::affine_scalar_backward<Scalar>);
  node.input[0] = x.index();
  node.scalar[0] = factor;
  node.value.array() = factor * x.value().array() + offset;
  return tape.last();
}
/// c * x.
template <class Scalar>
Var<Scalar> scale(const Var<Scalar>& x, Scalar factor) { return affine(x, factor, Scalar(0)); }
/// x + c.
template <class Scalar>
Var<Scalar> add_scalar(const Var<Scalar>& x, Scalar offset) { return affine(x, Scalar(1), offset); }

// A Var with a plain matrix (a mean, a precision matrix): the matrix enters the tape as a constant leaf.
template <class Scalar> Var<Scalar> add(const Var<Scalar>& a, const Matrix<Scalar>& b) { return add(a, a.tape().constant(b)); }
template <class Scalar> Var<Scalar> add(const Matrix<Scalar>& a, const Var<Scalar>& b) { return add(b.tape().constant(a), b); }
template <class Scalar> Var<Scalar> sub(const Var<Scalar>& a, const Matrix<Scalar>& b) { return sub(a, a.tape().constant(b)); }
template <class Scalar> Var<Scalar> sub(const Matrix<Scalar>& a, const Var<Scalar>& b) { return sub(b.tape().constant(a), b); }
template <class Scalar> Var<Scalar> mul(const Var<Scalar>& a, const Matrix<Scalar>& b) { return mul(a, a.tape().constant(b)); }
template <class Scalar> Var<Scalar> mul(const Matrix<Scalar>& a, const Var<Scalar>& b) { return mul(b.tape().constant(a), b); }
template <class Scalar> Var<Scalar> div(const Var<Scalar>& a, const Matrix<Scalar>& b) { return div(a, a.tape().constant(b)); }
template <class Scalar> Var<Scalar> div(const Matrix<Scalar>& a, const Var<Scalar>& b) { return div(b.tape().constant(a), b); }

template <class Scalar> Var<Scalar> operator+(const Var<Scalar>& a, const Var<Scalar>& b) { return add(a, b); }
template <class Scalar> Var<Scalar> operator-(const Var<Scalar>& a, const Var<Scalar>& b) { return sub(a, b); }
template <class Scalar> Var<Scalar> operator*(const Var<Scalar>& a, const Var<Scalar>& b) { return mul(a, b); }
template <class Scalar> Var<Scalar> operator/(const Var<Scalar>& a, const Var<Scalar>& b) { return div(a, b); }
template <class Scalar> Var<Scalar> operator-(const Var<Scalar>& x) { return affine(x, Scalar(-1), Scalar(0)); }
template <class Scalar> Var<Scalar> operator*(const Var<Scalar>& x, Scalar c) { return scale(x, c); }
template <class Scalar> Var<Scalar> operator*(Scalar c, const Var<Scalar>& x) { return scale(x, c); }
template <class Scalar> Var<Scalar> operator+(const Var<Scalar>& x, Scalar c) { return add_scalar(x, c); }
template <class Scalar> Var<Scalar> operator+(Scalar c, const Var<Scalar>& x) { return add_scalar(x, c); }
template <class Scalar> Var<Scalar> operator-(const Var<Scalar>& x, Scalar c) { return add_scalar(x, -c); }
template <class Scalar> Var<Scalar> operator-(Scalar c, const Var<Scalar>& x) { return affine(x, Scalar(-1), c); }

// ---- elementwise functions (formulas in core/functions.hpp) --------------------

template <class Scalar> Var<Scalar> exp(const Var<Scalar>& x) { return detail::unary<fn::Exp>(x); }
template <class Scalar> Var<Scalar> log(const Var<Scalar>& x) { return detail::unary<fn::Log>(x); }
template <class Scalar> Var<Scalar> log1p(const Var<Scalar>& x) { return detail::unary<fn::Log1p>(x); }
template <class Scalar> Var<Scalar> sqrt(const Var<Scalar>& x) { return detail::unary<fn::Sqrt>(x); }
template <class Scalar> Var<Scalar> square(const Var<Scalar>& x) { return detail::unary<fn::Square>(x); }
template <class Scalar> Var<Scalar> abs(const Var<Scalar>& x) { return detail::unary<fn::Abs>(x); }
template <class Scalar> Var<Scalar> sin(const Var<Scalar>& x) { return detail::unary<fn::Sin>(x); }
template <class Scalar> Var<Scalar> cos(const Var<Scalar>& x) { return detail::unary<fn::Cos>(x); }
template <class Scalar> Var<Scalar> tanh(const Var<Scalar>& x) { return detail::unary<fn::Tanh>(x); }
template <class Scalar> Var<Scalar> sigmoid(const Var<Scalar>& x) { return detail::unary<fn::Sigmoid>(x); }
template <class Scalar> Var<Scalar> softplus(const Var<Scalar>& x) { return detail::unary<fn::Softplus>(x); }
template <class Scalar> Var<Scalar> relu(const Var<Scalar>& x) { return detail::unary<fn::Relu>(x); }
template <class Scalar> Var<Scalar> elu(const Var<Scalar>& x) { return detail::unary<fn::Elu>(x); }
template <class Scalar> Var<Scalar> silu(const Var<Scalar>& x) { return detail::unary<fn::Silu>(x); }
template <class Scalar> Var<Scalar> gelu(const Var<Scalar>& x) { return detail::unary<fn::Gelu>(x); }
template <class Scalar> Var<Scalar> gelu_tanh(const Var<Scalar>& x) { return detail::unary<fn::GeluTanh>(x); }
/// 1 where x < 0, else 0; its gradient is zero (counts, not values).
template <class Scalar> Var<Scalar> is_negative(const Var<Scalar>& x) { return detail::unary<fn::IsNegative>(x); }

namespace detail {
template <class Scalar>
void leaky_relu_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& input = tape.node(node.input[0]);
  const Scalar slope = node.scalar[0];
  input.adjoint.array() +=
      node.adjoint.array() *
      input.value.array().unaryExpr([slope](Scalar v) { return v > Scalar(0) ? Scalar(1) : slope; });
}
}  // namespace detail

/// leaky_relu(x) = x for x > 0, negative_slope * x otherwise (constant slope).
template <class Scalar>
Var<Scalar> leaky_relu(const Var<Scalar>& x, Scalar negative_slope) {
  Tape<Scalar>& tape = x.tape();
  auto& node = tape.push(x.rows(), x.cols(), &detail::leaky_relu_backward<Scalar>);
  node.input[0] = x.index();
  node.scalar[0] = negative_slope;
  node.value = leaky_relu(x.value(), negative_slope);
  return tape.last();
}

// ---- linear algebra ------------------------------------------------------------

namespace detail {
template <class Scalar>
void matmul_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& a = tape.node(node.input[0]);
  auto& b = tape.node(node.input[1]);
  gemm_add(a.adjoint, Scalar(1), node.adjoint, false, b.value, true);  // dA += dY · Bᵀ
  gemm_add(b.adjoint, Scalar(1), a.value, true, node.adjoint, false);  // dB += Aᵀ · dY
}
template <class Scalar>
void transpose_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  tape.node(node.input[0]).adjoint += node.adjoint.transpose();
}
/// dX += dZ · W and dW += dZᵀ · X, dZ in the node's adjoint: a dense layer's two products.
/// dX is usually the first contribution to X's adjoint: then it is written, not added.
template <class Scalar>
void dense_products_backward(Tape<Scalar>& tape, const typename Tape<Scalar>::Node& node) {
  auto& weight = tape.node(node.input[1]);
  bool fresh = false;
  auto& x = tape.node_to_overwrite(node.input[0], fresh);
  gemm_add(x.adjoint, Scalar(1), node.adjoint, false, weight.value, false, fresh);
  gemm_add(weight.adjoint, Scalar(1), node.adjoint, true, x.value, false);
}
template <class Scalar>
void linear_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  dense_products_backward(tape, node);
  if (node.integer[0] != 0) tape.node(static_cast<std::size_t>(node.integer[1])).adjoint += node.adjoint.colwise().sum();
}
}  // namespace detail

/// a · b (matrix product).
template <class Scalar>
Var<Scalar> matmul(const Var<Scalar>& a, const Var<Scalar>& b) {
  detail::require_same_tape("matmul", a, b);
  if (a.cols() != b.rows()) detail::throw_shape_mismatch("matmul", a.value(), b.value());
  Tape<Scalar>& tape = a.tape();
  auto& node = tape.push(a.rows(), b.cols(), &detail::matmul_backward<Scalar>);
  node.input = {a.index(), b.index()};
  node.value.setZero();
  detail::gemm_add(node.value, Scalar(1), a.value(), false, b.value(), false);
  return tape.last();
}

/// xᵀ.
template <class Scalar> Var<Scalar> matmul(const Var<Scalar>& a, const Matrix<Scalar>& b) { return matmul(a, a.tape().constant(b)); }
template <class Scalar> Var<Scalar> matmul(const Matrix<Scalar>& a, const Var<Scalar>& b) { return matmul(b.tape().constant(a), b); }

template <class Scalar>
Var<Scalar> transpose(const Var<Scalar>& x) {
  Tape<Scalar>& tape = x.tape();
  auto& node = tape.push(x.cols(), x.rows(), &detail::transpose_backward<Scalar>);
  node.input[0] = x.index();
  node.value = x.value().transpose();
  return tape.last();
}

namespace detail {
/// Records y = x · Wᵀ + b (or relu of it) as one node with the given backward rule (linear's or linear_relu's).
template <class Scalar>
void push_dense(const char* op, const Var<Scalar>& x, const Var<Scalar>& weight,
                const Var<Scalar>& bias, typename Tape<Scalar>::BackwardFn backward, bool relu) {
  require_same_tape(op, x, weight);
  require_same_tape(op, x, bias);
  require_linear_shapes(x.value(), weight.value(), bias.value());
  auto& node = x.tape().push(x.rows(), weight.rows(), backward);
  node.input = {x.index(), weight.index()};
  node.integer = {1, static_cast<Index>(bias.index())};
  linear_into(node.value, x.value(), weight.value(), bias.value(), relu);
}

template <class Scalar>
void linear_relu_backward(Tape<Scalar>& tape, std::size_t self) {
  // dZ = dY ⊙ [y > 0], formed in this node's own adjoint (no buffer for the
  // pre-activation), and db += Σ_rows dZ in the same pass over each column; then
  // the dense layer's products on dZ.
  auto& node = tape.node(self);
  auto& bias = tape.node(static_cast<std::size_t>(node.integer[1])).adjoint;
  const Index rows = node.adjoint.rows();
  const Isa isa = active_isa();
  for (Index j = 0; j < node.adjoint.cols(); ++j) {
    Scalar* dz = node.adjoint.col(j).data();
    const Scalar* y = node.value.col(j).data();
    if (Scalar column_sum = 0; gemm_kernel::relu_mask_sum(isa, rows, y, dz, &column_sum)) {  // on the CPU's vectors
      bias(0, j) += column_sum;
      continue;
    }
    for (Index i = 0; i < rows; ++i) dz[i] = y[i] > Scalar(0) ? dz[i] : Scalar(0);  // a plain loop vectorises as a masked move
    bias(0, j) += node.adjoint.col(j).sum();
  }
  dense_products_backward(tape, node);
}
}  // namespace detail

/// A dense layer in PyTorch's layout: y = x · Wᵀ + b, W is out x in, b is 1 x out.
/// Fused so that backward is two GEMMs and a column sum, with no transposed copy.
template <class Scalar>
Var<Scalar> linear(const Var<Scalar>& x, const Var<Scalar>& weight, const Var<Scalar>& bias) {
  detail::push_dense("linear", x, weight, bias, &detail::linear_backward<Scalar>, false);
  return x.tape().last();
}

/// relu(x · Wᵀ + b) as one node: a hidden layer of a ReLU network without the
/// pre-activation on the tape (one buffer and two passes fewer per layer).
/// Its adjoint is overwritten by dZ during backward.
template <class Scalar>
Var<Scalar> linear_relu(const Var<Scalar>& x, const Var<Scalar>& weight, const Var<Scalar>& bias) {
  detail::push_dense("linear_relu", x, weight, bias, &detail::linear_relu_backward<Scalar>, true);
  return x.tape().last();
}

// ---- reductions ------------------------------------------------------------------

namespace detail {
enum class ReduceKind { all, per_row, per_column };

template <ReduceKind kind, class Scalar>
void reduce_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& input = tape.node(node.input[0]);
  const Scalar weight = node.scalar[0];  // 1 for sums, 1/count for means
  if constexpr (kind == ReduceKind::all) {
    input.adjoint.array() += weight * node.adjoint(0, 0);
  } else if constexpr (kind == ReduceKind::per_row) {  // column by column: a broadcast would allocate a temporary
    for (Index j = 0; j < input.adjoint.cols(); ++j) input.adjoint.col(j) += weight * node.adjoint.col(0);
  } else {
    for (Index j = 0; j < input.adjoint.cols(); ++j) input.adjoint.col(j).array() += weight * node.adjoint(0, j);
  }
}

template <ReduceKind kind, class Scalar>
Var<Scalar> reduce(const Var<Scalar>& x, bool mean) {
  Tape<Scalar>& tape = x.tape();
  const Index rows = kind == ReduceKind::per_row ? x.rows() : 1;
  const Index cols = kind == ReduceKind::per_column ? x.cols() : 1;
  auto& node = tape.push(rows, cols, &reduce_backward<kind, Scalar>);
  node.input[0] = x.index();
  const Index count = kind == ReduceKind::all ? x.value().size()
                      : kind == ReduceKind::per_row ? x.cols() : x.rows();
  if (count == 0) throw ShapeError("reduction over an empty matrix");
  node.scalar[0] = mean ? Scalar(1) / static_cast<Scalar>(count) : Scalar(1);
  if constexpr (kind == ReduceKind::all) node.value(0, 0) = x.value().sum() * node.scalar[0];
  else if constexpr (kind == ReduceKind::per_row) node.value = x.value().rowwise().sum() * node.scalar[0];
  else node.value = x.value().colwise().sum() * node.scalar[0];
  return tape.last();
}
}  // namespace detail

/// Σ of all entries (1x1).
template <class Scalar> Var<Scalar> sum(const Var<Scalar>& x) { return detail::reduce<detail::ReduceKind::all>(x, false); }
/// Mean of all entries (1x1).
template <class Scalar> Var<Scalar> mean(const Var<Scalar>& x) { return detail::reduce<detail::ReduceKind::all>(x, true); }
/// Each row's sum (N x 1).
template <class Scalar> Var<Scalar> row_sums(const Var<Scalar>& x) { return detail::reduce<detail::ReduceKind::per_row>(x, false); }
/// Each row's mean (N x 1).
template <class Scalar> Var<Scalar> row_means(const Var<Scalar>& x) { return detail::reduce<detail::ReduceKind::per_row>(x, true); }
/// Each column's sum (1 x D).
template <class Scalar> Var<Scalar> column_sums(const Var<Scalar>& x) { return detail::reduce<detail::ReduceKind::per_column>(x, false); }
/// Each column's mean (1 x D).
template <class Scalar> Var<Scalar> column_means(const Var<Scalar>& x) { return detail::reduce<detail::ReduceKind::per_column>(x, true); }

// ---- structure: slices, concatenation, masks, gathers ---------------------------

namespace detail {
template <class Scalar>
void columns_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  tape.node(node.input[0]).adjoint.middleCols(node.integer[0], node.integer[1]) += node.adjoint;
}
template <class Scalar>
void concat_columns_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& a = tape.node(node.input[0]);
  auto& b = tape.node(node.input[1]);
  a.adjoint += node.adjoint.leftCols(a.value.cols());
  b.adjoint += node.adjoint.rightCols(b.value.cols());
}
template <class Scalar>
void mask_multiply_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& input = tape.node(node.input[0]);
  if (same_shape(node.saved, node.value)) {
    input.adjoint.array() += node.adjoint.array() * node.saved.array();
    return;
  }
  for (Index j = 0; j < node.value.cols(); ++j)
    with_broadcast_column(node.saved, j, node.value.rows(),
                          [&](const auto& mask_j) { input.adjoint.col(j).array() += node.adjoint.col(j).array() * mask_j; });
}
template <class Scalar>
void row_dot_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& a = tape.node(node.input[0]);
  auto& b = tape.node(node.input[1]);
  a.adjoint.array() += b.value.array().colwise() * node.adjoint.col(0).array();
  b.adjoint.array() += a.value.array().colwise() * node.adjoint.col(0).array();
}
// d‖x_i‖/dx_ij = x_ij/‖x_i‖, taken as 0 at x_i = 0 (a subgradient; sqrt∘square would give 0·∞ = NaN there).
template <class Scalar>
void row_norms_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& input = tape.node(node.input[0]);
  for (Index i = 0; i < node.value.rows(); ++i)
    if (node.value(i, 0) > Scalar(0)) input.adjoint.row(i) += (node.adjoint(i, 0) / node.value(i, 0)) * input.value.row(i);
}
// d/dx_ij log Σ_k exp(x_ik) = exp(x_ij − y_i), the row's softmax (nothing flows from a row that is −∞ throughout).
template <class Scalar>
void row_logsumexp_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& input = tape.node(node.input[0]);
  for (Index i = 0; i < node.value.rows(); ++i)
    if (std::isfinite(node.value(i, 0)))
      input.adjoint.row(i).array() += node.adjoint(i, 0) * (input.value.row(i).array() - node.value(i, 0)).exp();
}
template <class Scalar>
void gather_columns_backward(Tape<Scalar>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& input = tape.node(node.input[0]);
  for (Index j = 0; j < node.value.cols(); ++j)
    input.adjoint.col(static_cast<Index>(node.saved(0, j))) += node.adjoint.col(j);
}
}  // namespace detail

/// Columns [first, first + count) of x.
template <class Scalar>
Var<Scalar> columns(const Var<Scalar>& x, Index first, Index count) {
  if (first < 0 || count < 0 || first + count > x.cols())
    throw ShapeError("columns: range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                     ") is outside a matrix of shape " + detail::shape_string(x.rows(), x.cols()));
  Tape<Scalar>& tape = x.tape();
  auto& node = tape.push(x.rows(), count, &detail::columns_backward<Scalar>);
  node.input[0] = x.index();
  node.integer = {first, count};
  node.value = x.value().middleCols(first, count);
  return tape.last();
}

/// [a | b]: the columns of a followed by those of b.
template <class Scalar>
Var<Scalar> concat_columns(const Var<Scalar>& a, const Var<Scalar>& b) {
  detail::require_same_tape("concat_columns", a, b);
  if (a.rows() != b.rows()) detail::throw_shape_mismatch("concat_columns", a.value(), b.value());
  Tape<Scalar>& tape = a.tape();
  auto& node = tape.push(a.rows(), a.cols() + b.cols(), &detail::concat_columns_backward<Scalar>);
  node.input = {a.index(), b.index()};
  node.value << a.value(), b.value();
  return tape.last();
}

/// x ⊙ mask for a constant mask (1 x D, broadcast over rows, or the shape of x).
/// The mask is copied onto the tape, so it need not outlive the graph.
template <class Scalar, class Derived>
Var<Scalar> mask_multiply(const Var<Scalar>& x, const Eigen::MatrixBase<Derived>& mask) {
  Tape<Scalar>& tape = x.tape();
  const auto shape = detail::broadcast_shape("mask_multiply", x.value(), mask);
  if (shape.first != x.rows() || shape.second != x.cols())
    detail::throw_shape_mismatch("mask_multiply", x.value(), mask);
  auto& node = tape.push(x.rows(), x.cols(), &detail::mask_multiply_backward<Scalar>);
  node.input[0] = x.index();
  node.saved = mask.template cast<Scalar>();
  detail::apply_binary<detail::BinaryKind::multiply>(node.value, x.value(), node.saved);
  return tape.last();
}

/// Row-wise dot product: out_i = Σ_j a_ij b_ij (N x 1).
template <class Scalar>
Var<Scalar> row_dot(const Var<Scalar>& a, const Var<Scalar>& b) {
  detail::require_same_tape("row_dot", a, b);
  if (!detail::same_shape(a.value(), b.value())) detail::throw_shape_mismatch("row_dot", a.value(), b.value());
  Tape<Scalar>& tape = a.tape();
  auto& node = tape.push(a.rows(), 1, &detail::row_dot_backward<Scalar>);
  node.input = {a.index(), b.index()};
  node.value = a.value().cwiseProduct(b.value()).rowwise().sum();
  return tape.last();
}

/// Each row's Euclidean norm ‖x_i‖ (N x 1), with gradient 0 at the origin.
template <class Scalar>
Var<Scalar> row_norms(const Var<Scalar>& x) {
  Tape<Scalar>& tape = x.tape();
  auto& node = tape.push(x.rows(), 1, &detail::row_norms_backward<Scalar>);
  node.input[0] = x.index();
  node.value = x.value().rowwise().norm();
  return tape.last();
}

/// Each row's log Σ_j exp(x_ij) (N x 1), computed without overflow.
template <class Scalar>
Var<Scalar> row_logsumexp(const Var<Scalar>& x) {
  Tape<Scalar>& tape = x.tape();
  auto& node = tape.push(x.rows(), 1, &detail::row_logsumexp_backward<Scalar>);
  node.input[0] = x.index();
  detail::row_logsumexp_into(node.value, x.value());
  return tape.last();
}

/// out(:, j) = x(:, indices[j]) — permutations and column selections.
template <class Scalar>
Var<Scalar> gather_columns(const Var<Scalar>& x, const std::vector<Index>& indices) {
  for (Index index : indices)
    if (index < 0 || index >= x.cols())
      throw ShapeError("gather_columns: column index " + std::to_string(index) + " outside 0.." +
                       std::to_string(x.cols() - 1));
  Tape<Scalar>& tape = x.tape();
  const auto count = static_cast<Index>(indices.size());
  auto& node = tape.push(x.rows(), count, &detail::gather_columns_backward<Scalar>);
  node.input[0] = x.index();
  node.saved.resize(1, count);
  for (Index j = 0; j < count; ++j) {
    node.saved(0, j) = static_cast<Scalar>(indices[static_cast<std::size_t>(j)]);
    node.value.col(j) = x.value().col(indices[static_cast<std::size_t>(j)]);
  }
  return tape.last();
}

}  // namespace eigenflow
