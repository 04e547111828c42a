// Broadcasting rules shared by the plain and the taped elementwise ops.
//
// Two operands broadcast when, in each of the two dimensions, their extents
// are equal or one of them is 1; the result takes the larger extent. The
// reverse rule, accumulate_reduced, sums a result-shaped adjoint back down to
// an operand's shape.
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

/// x repeated up to rows x cols (a lazy expression; no copy is made).
template <class Derived>
auto broadcast(const Eigen::MatrixBase<Derived>& x, Index rows, Index cols) {
  return x.replicate(rows / x.rows(), cols / x.cols());
}

/// destination += expression summed down to destination's shape.
template <class Dst, class Expr>
void accumulate_reduced(Dst& destination, const Expr& expression) {
  const Index rows = destination.rows(), cols = destination.cols();
  if (rows == expression.rows() && cols == expression.cols()) {
    destination.array() += expression;
  } else if (rows == 1 && cols == expression.cols()) {
    destination.array() += expression.colwise().sum();
  } else if (cols == 1 && rows == expression.rows()) {
    destination.array() += expression.rowwise().sum();
  } else {
    destination(0, 0) += expression.sum();
  }
}

/// out = a ∘ b with broadcasting; out must already have the broadcast shape.
template <BinaryKind kind, class Out, class A, class B>
void apply_binary(Out& out, const A& a, const B& b) {
  const Index rows = out.rows(), cols = out.cols();
  auto combine = [&out](const auto& x, const auto& y) {
    if constexpr (kind == BinaryKind::add) out.array() = x.array() + y.array();
    else if constexpr (kind == BinaryKind::subtract) out.array() = x.array() - y.array();
    else if constexpr (kind == BinaryKind::multiply) out.array() = x.array() * y.array();
    else out.array() = x.array() / y.array();
  };
  if (same_shape(a, b)) combine(a, b);
  else if (same_shape(out, a)) combine(a, broadcast(b, rows, cols));
  else if (same_shape(out, b)) combine(broadcast(a, rows, cols), b);
  else combine(broadcast(a, rows, cols), broadcast(b, rows, cols));
}

}  // namespace eigenflow::detail
