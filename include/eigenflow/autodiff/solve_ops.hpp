// Linear solves and log-determinants, on plain matrices and on the tape: what
// the invertible linear layers (flows/linear/) need to invert a batch without
// ever forming a matrix inverse.
//
//   solve_transposed(Y, T, structure):  X = Y·T⁻ᵀ, i.e. the X with X·Tᵀ = Y
//     (one point per row: x = T⁻¹ y for every row). T is unit lower-triangular,
//     upper-triangular (its diagonal used) or general (partial-pivot LU); only
//     the triangle a structure names is read.
//     backward: dY = G·T⁻¹,  dT = −dYᵀ·X   (differentiating X·Tᵀ = Y)
//   log_abs_det(W):  log|det W| (1 x 1) by partial-pivot LU;  backward: dW = g·W⁻ᵀ
#pragma once

#include <cmath>
#include <string>

#include <Eigen/LU>

#include "eigenflow/autodiff/ops.hpp"

namespace eigenflow {

enum class SolveStructure { unit_lower, upper, general };

namespace detail {

template <class S>
void require_square_solve(const char* op, const Matrix<S>& y, const Matrix<S>& t) {
  if (t.rows() != t.cols() || y.cols() != t.rows())
    throw ShapeError(std::string(op) + ": expected a square matrix of size " + std::to_string(y.cols()) +
                     " for points of shape " + shape_string(y.rows(), y.cols()) + ", found " +
                     shape_string(t.rows(), t.cols()));
}

/// T⁻¹·B for a structured T (B: D x M).
template <class S>
Matrix<S> solve_left(const Matrix<S>& t, const Matrix<S>& b, SolveStructure structure) {
  if (structure == SolveStructure::unit_lower) return t.template triangularView<Eigen::UnitLower>().solve(b);
  if (structure == SolveStructure::upper) return t.template triangularView<Eigen::Upper>().solve(b);
  return t.partialPivLu().solve(b);
}

/// T⁻ᵀ·B.
template <class S>
Matrix<S> solve_left_transposed(const Matrix<S>& t, const Matrix<S>& b, SolveStructure structure) {
  if (structure == SolveStructure::unit_lower) return t.template triangularView<Eigen::UnitLower>().transpose().solve(b);
  if (structure == SolveStructure::upper) return t.template triangularView<Eigen::Upper>().transpose().solve(b);
  return t.partialPivLu().transpose().solve(b);
}

template <class S>
void solve_transposed_backward(Tape<S>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& y = tape.node(node.input[0]);
  auto& t = tape.node(node.input[1]);
  const auto structure = static_cast<SolveStructure>(node.integer[0]);
  // dY = G·T⁻¹ = (T⁻ᵀ·Gᵀ)ᵀ
  const Matrix<S> d_y = solve_left_transposed(t.value, Matrix<S>(node.adjoint.transpose()), structure).transpose();
  y.adjoint += d_y;
  t.adjoint.noalias() -= d_y.transpose() * node.value;
}

template <class S>
void log_abs_det_backward(Tape<S>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& w = tape.node(node.input[0]);
  // d log|det W| / dW = W⁻ᵀ, from the factorisation's solve of W·V = I (V = W⁻¹).
  const Index d = w.value.rows();
  w.adjoint += node.adjoint(0, 0) * w.value.partialPivLu().solve(Matrix<S>::Identity(d, d)).transpose();
}

}  // namespace detail

/// X = Y·T⁻ᵀ (each row x solves T·x = y), plain matrices.
template <class S>
Matrix<S> solve_transposed(const Matrix<S>& y, const Matrix<S>& t, SolveStructure structure) {
  detail::require_square_solve("solve_transposed", y, t);
  return detail::solve_left(t, Matrix<S>(y.transpose()), structure).transpose();
}

/// The same on a tape: gradients reach Y and T.
template <class S>
Var<S> solve_transposed(const Var<S>& y, const Var<S>& t, SolveStructure structure) {
  detail::require_same_tape("solve_transposed", y, t);
  detail::require_square_solve("solve_transposed", y.value(), t.value());
  Tape<S>& tape = y.tape();
  auto& node = tape.push(y.rows(), y.cols(), &detail::solve_transposed_backward<S>);
  node.input = {y.index(), t.index()};
  node.integer[0] = static_cast<Index>(structure);
  node.value = solve_transposed(y.value(), t.value(), structure);
  return tape.last();
}

/// log|det W| (1 x 1), by partial-pivot LU. Throws NumericalError for a
/// singular or non-finite W: its log-det is not a number a flow can use.
template <class S>
Matrix<S> log_abs_det(const Matrix<S>& w) {
  if (w.rows() != w.cols()) throw ShapeError("log_abs_det: expected a square matrix, found " + detail::shape_string(w.rows(), w.cols()));
  if (!w.allFinite()) throw NumericalError("log_abs_det: the matrix has a NaN or infinite entry");
  const Eigen::PartialPivLU<Matrix<S>> lu(w);
  const S value = lu.matrixLU().diagonal().cwiseAbs().array().log().sum();
  if (!std::isfinite(value)) throw NumericalError("log_abs_det: the matrix is singular");
  return Matrix<S>::Constant(1, 1, value);
}

template <class S>
Var<S> log_abs_det(const Var<S>& w) {
  Tape<S>& tape = w.tape();
  Matrix<S> value = log_abs_det(w.value());
  auto& node = tape.push(1, 1, &detail::log_abs_det_backward<S>);
  node.input[0] = w.index();
  node.value = std::move(value);
  return tape.last();
}

}  // namespace eigenflow
