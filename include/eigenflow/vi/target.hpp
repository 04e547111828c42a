// An unnormalised target density for variational inference,
//   p(x) = p̃(x) / Z,   log p̃(x) = −U(x),
// known only through its energy U. A target evaluates U on plain matrices
// (diagnostics, pictures) and on a tape (training: ∇U comes from the tape).
//
// Two ways to write one:
//   make_target<S>(name, D, energy): energy is one generic callable, run on
//     Matrix<S> and on Var<S> alike, written with eigenflow's ops (the names
//     are the same for both), e.g.
//       [](const auto& x) { return scale(row_sums(square(x)), 0.5); }   // U = ½‖x‖²
//   make_target_with_gradient<S>(name, D, f): f(x) returns {U (N x 1), ∇U (N x D)}
//     from the user's own code; the tape uses that gradient.
#pragma once

#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/checks.hpp"

namespace eigenflow {

template <class S>
class Target {
 public:
  using PlainEnergy = std::function<Matrix<S>(const Matrix<S>&)>;
  using TapedEnergy = std::function<Var<S>(Tape<S>&, const Var<S>&)>;

  Target(std::string name, Index dim, PlainEnergy plain, TapedEnergy taped)
      : name_(std::move(name)), dim_(dim), plain_(std::move(plain)), taped_(std::move(taped)) {
    detail::require_positive_dim("Target", dim);
    if (!plain_ || !taped_) throw ValueError("Target '" + name_ + "': empty energy function");
  }

  const std::string& name() const { return name_; }
  Index dim() const { return dim_; }

  /// U(x) per row (N x 1).
  ColumnVector<S> energy(const Matrix<S>& x) const {
    detail::require_columns(where("energy").c_str(), x, dim_);
    Matrix<S> u = plain_(x);
    check_energy_shape(u, x.rows());
    return u;
  }
  /// U(x) per row on a tape (N x 1).
  Var<S> energy(Tape<S>& tape, const Var<S>& x) const {
    detail::require_columns(where("energy").c_str(), x.value(), dim_);
    Var<S> u = taped_(tape, x);
    check_energy_shape(u.value(), x.rows());
    return u;
  }
  /// log p̃(x) = −U(x) per row.
  ColumnVector<S> log_density(const Matrix<S>& x) const { return -energy(x); }

 private:
  std::string where(const char* verb) const { return "target '" + name_ + "'." + verb; }
  void check_energy_shape(const Matrix<S>& u, Index rows) const {
    if (u.rows() != rows || u.cols() != 1)
      throw ShapeError(where("energy") + ": the energy function returned a " + detail::shape_string(u.rows(), u.cols()) +
                       " matrix for " + std::to_string(rows) + " points; it must return one value per row (" +
                       std::to_string(rows) + " x 1)");
  }

  std::string name_;
  Index dim_;
  PlainEnergy plain_;
  TapedEnergy taped_;
};

/// A target from one generic energy callable (see the top of this file).
template <class S, class Energy>
Target<S> make_target(std::string name, Index dim, Energy energy) {
  static_assert(std::is_invocable_v<const Energy&, const Matrix<S>&> && std::is_invocable_v<const Energy&, const Var<S>&>,
                "make_target: the energy must accept both Matrix<S> and Var<S> (write it as a generic lambda over eigenflow's ops)");
  auto plain = [energy](const Matrix<S>& x) { return Matrix<S>(energy(x)); };
  auto taped = [energy](Tape<S>&, const Var<S>& x) { return Var<S>(energy(x)); };
  return Target<S>(std::move(name), dim, plain, taped);
}

namespace detail {
// The energy node's backward: dx_i += ū_i · ∇U(x_i), with ∇U saved when the node was recorded.
template <class S>
void supplied_gradient_backward(Tape<S>& tape, std::size_t self) {
  auto& node = tape.node(self);
  tape.node(node.input[0]).adjoint += node.adjoint.col(0).asDiagonal() * node.saved;
}
}  // namespace detail

/// A target from a function returning {U(x) (N x 1), ∇U(x) (N x D)} for plain points.
template <class S, class EnergyAndGradient>
Target<S> make_target_with_gradient(std::string name, Index dim, EnergyAndGradient f) {
  auto evaluate = [f, name, dim](const Matrix<S>& x) {
    auto [u, gradient] = f(x);
    Matrix<S> energy = u, grad = gradient;
    if (grad.rows() != x.rows() || grad.cols() != dim)
      throw ShapeError("target '" + name + "': the gradient function returned a " + detail::shape_string(grad.rows(), grad.cols()) +
                       " matrix for " + std::to_string(x.rows()) + " points of dimension " + std::to_string(dim));
    return std::pair<Matrix<S>, Matrix<S>>{std::move(energy), std::move(grad)};
  };
  auto plain = [evaluate](const Matrix<S>& x) { return evaluate(x).first; };
  auto taped = [evaluate](Tape<S>& tape, const Var<S>& x) {
    auto [energy, gradient] = evaluate(x.value());
    if (energy.rows() != x.rows() || energy.cols() != 1) return tape.constant(energy);  // Target reports the shape
    auto& node = tape.push(x.rows(), 1, &detail::supplied_gradient_backward<S>);
    node.input[0] = x.index();
    node.value = energy;
    node.saved = std::move(gradient);
    return tape.last();
  };
  return Target<S>(std::move(name), dim, plain, taped);
}

}  // namespace eigenflow
