// Broadcasting rules shared by the plain and the taped elementwise ops.
//
// Two operands broadcast when, in each of the two dimensions, their extents
// are equal or one of them is 1; the result takes the larger extent. The
// reverse rule, accumulate_reduced (accumulate_column per column), sums a
// result-shaped adjoint back down to an operand's shape.
#pragma once

#include <string>
#include <utility>

#include "eigenflow/core/error.hpp"
#include "eigenflow/core/types.hpp"

namespace eigenflow::detail {

enum class BinaryKind { add, subtract, multiply, divide };

template <class A, class B>
bool same_shape(const A& a, const B& b) {
  return a.rows() == b.rows() && a.cols() == b.cols();
}

/// Shape of a ∘ b under broadcasting; throws ShapeError naming both shapes.
template <class A, class B>
std::pair<Index, Index> broadcast_shape(const char* op, const A& a, const B& b) {
  auto extent = [](Index x, Index y, bool& ok) {
    if (x == y || y == 1) return x;
    if (x == 1) return y;
    ok = false;
    return x;
  };
  bool ok = true;
  const Index rows = extent(a.rows(), b.rows(), ok);
  const Index cols = extent(a.cols(), b.cols(), ok);
  if (!ok) throw_shape_mismatch(op, a, b);
  return {rows, cols};
}

// Broadcasts run column by column: column j of an operand is its own column (or its only
// one), or a constant where it has one row. Eigen's replicate() of a dynamic matrix reads
// coefficient by coefficient (a modulo per read); a column loop stays vectorised.

/// f(column j of x broadcast to `rows` rows, as an array expression).
template <class X, class F>
void with_broadcast_column(const X& x, Index j, Index rows, F&& f) {
  const Index c = x.cols() == 1 ? 0 : j;
  if (x.rows() == rows) f(x.col(c).array());
  else f(Eigen::Array<typename X::Scalar, Eigen::Dynamic, 1>::Constant(rows, x(0, c)));
}

/// Column j of a result-shaped adjoint summed into destination: destination's column j (or
/// its only one) += column, or its coefficient += Σ column where destination has one row.
template <class Dst, class Col>
void accumulate_column(Dst& destination, Index j, const Col& column) {
  const Index c = destination.cols() == 1 ? 0 : j;
  if (destination.rows() == column.rows()) destination.col(c).array() += column;
  else destination(0, c) += column.sum();
}

/// destination += a result-shaped matrix summed down to destination's shape.
template <class Dst, class Src>
void accumulate_reduced(Dst& destination, const Src& source) {
  if (same_shape(destination, source)) {
    destination += source;
    return;
  }
  for (Index j = 0; j < source.cols(); ++j) accumulate_column(destination, j, source.col(j).array());
}

/// out = a ∘ b with broadcasting; out must already have the broadcast shape.
template <BinaryKind kind, class Out, class A, class B>
void apply_binary(Out& out, const A& a, const B& b) {
  auto combine = [](const auto& x, const auto& y) {
    if constexpr (kind == BinaryKind::add) return x + y;
    else if constexpr (kind == BinaryKind::subtract) return x - y;
    else if constexpr (kind == BinaryKind::multiply) return x * y;
    else return x / y;
  };
  if (same_shape(a, b)) {
    out.array() = combine(a.array(), b.array());
    return;
  }
  const Index rows = out.rows();
  for (Index j = 0; j < out.cols(); ++j)
    with_broadcast_column(a, j, rows, [&](const auto& x) {
      with_broadcast_column(b, j, rows, [&](const auto& y) { out.col(j).array() = combine(x, y); });
    });
}

}  // namespace eigenflow::detail
