// The adjoint method (Chen et al. 2018, §2 and appendix B): gradients of a loss
// of y(t1), where dy/dt = g(y, t, θ), without keeping the forward steps. With
// a(t) = ∂loss/∂y(t), integrating backwards from t1 to t0
//   dy/dt = g(y, t),   da/dt = −aᵀ ∂g/∂y,   dθ̄/dt = −aᵀ ∂g/∂θ,   θ̄(t1) = 0,
// gives a(t0) = ∂loss/∂y(t0) and θ̄(t0) = ∂loss/∂θ. Memory is that of one
// step whatever the number of steps; y is recomputed backwards, so the
// gradient equals backpropagation through the steps only to the solver's
// tolerance. Here the backward solve takes the forward solve's accepted grid
// in reverse, with the same method's weights (rk4, or dopri5's 5th-order
// solution), so its accuracy follows the forward solve's step sizes.
#pragma once

#include <array>
#include <utility>
#include <vector>

#include "eigenflow/flows/continuous/ode_solver.hpp"

namespace eigenflow::detail {

/// An explicit Runge–Kutta tableau: nodes c, lower-triangular a, weights b.
struct ButcherTableau {
  std::vector<double> c;
  std::vector<std::vector<double>> a;
  std::vector<double> b;
};

inline const ButcherTableau& butcher_tableau(OdeMethod method) {
  static const ButcherTableau rk4{{0, 0.5, 0.5, 1}, {{}, {0.5}, {0, 0.5}, {0, 0, 1}}, {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6}};
  static const ButcherTableau dopri5{
      {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1},
      {{},
       {1.0 / 5},
       {3.0 / 40, 9.0 / 40},
       {44.0 / 45, -56.0 / 15, 32.0 / 9},
       {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
       {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656}},
      {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
  return method == OdeMethod::rk4 ? rk4 : dopri5;
}

/// Runs the adjoint system from grid.back() to grid.front(), updating y and a in place.
/// stage(t, y, a, weight) returns {g(y, t), aᵀ ∂g/∂y} and adds weight·aᵀ ∂g/∂θ (and any other
/// integrand the caller accumulates) itself; weight = −h·b_j is the quadrature weight of the stage.
template <class S, class Stage>
void adjoint_sweep(Stage& stage, Matrix<S>& y, Matrix<S>& a, const std::vector<S>& grid, OdeMethod method) {
  const ButcherTableau& tableau = butcher_tableau(method);
  const std::size_t stages = tableau.b.size();
  std::vector<Matrix<S>> dy(stages), da(stages);
  for (std::size_t i = grid.size() - 1; i > 0; --i) {
    const S t = grid[i], h = grid[i - 1] - grid[i];
    for (std::size_t j = 0; j < stages; ++j) {
      Matrix<S> y_stage = y, a_stage = a;
      for (std::size_t k = 0; k < j; ++k) {
        const S coefficient = static_cast<S>(h * static_cast<S>(tableau.a[j][k]));
        if (tableau.a[j][k] == 0) continue;
        y_stage += coefficient * dy[k];
        a_stage += coefficient * da[k];
      }
      const S weight = static_cast<S>(-h * static_cast<S>(tableau.b[j]));
      auto [g, vjp] = stage(static_cast<S>(t + static_cast<S>(tableau.c[j]) * h), y_stage, a_stage, weight);
      dy[j] = std::move(g);
      da[j] = -vjp;
    }
    for (std::size_t j = 0; j < stages; ++j) {
      if (tableau.b[j] == 0) continue;
      const S coefficient = static_cast<S>(h * static_cast<S>(tableau.b[j]));
      y += coefficient * dy[j];
      a += coefficient * da[j];
    }
  }
}

}  // namespace eigenflow::detail
