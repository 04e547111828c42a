// Explicit Runge–Kutta solvers for dy/dt = f(t, y), y a batch (N x K), usable
// on their own and by the continuous flows:
//   rk4     the classic 4-stage method on a fixed grid of `steps` equal steps
//           (global error O(h⁴));
//   dopri5  Dormand & Prince (1980) 5(4) with the 4th-order embedded estimate,
//           FSAL, and Hairer's step control (Hairer, Nørsett & Wanner, Solving
//           ODEs I, §II.4): a step is accepted when
//             ‖err‖ = sqrt(mean_ij (err_ij / (atol + rtol·max(|y0_ij|, |y1_ij|)))²) ≤ 1
//           and the next step is h·clamp(0.9·‖err‖^(−1/5), 0.2, 10).
// One step size serves the whole batch (as torchdiffeq does), so a row's result
// depends on the other rows only through the step sizes, i.e. to the tolerance.
//
// The same code runs on plain matrices and on tape Vars (discretise-then-
// optimise): the stages are add/scale ops, and on a tape a rejected trial step
// is rewound, so the recorded graph holds only the accepted steps. Step-size
// decisions read values only; they carry no gradient.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/error.hpp"
#include "eigenflow/core/matrix_ops.hpp"

namespace eigenflow {

enum class OdeMethod { rk4, dopri5 };

inline std::string to_string(OdeMethod method) { return method == OdeMethod::rk4 ? "rk4" : "dopri5"; }
inline OdeMethod parse_ode_method(const std::string& name) {
  if (name == "rk4") return OdeMethod::rk4;
  if (name == "dopri5") return OdeMethod::dopri5;
  throw ValueError("unknown ODE solver '" + name + "' (expected rk4 or dopri5)");
}

struct OdeOptions {
  OdeMethod method = OdeMethod::dopri5;
  Index steps = 8;            ///< rk4: equal steps over the interval
  double rtol = 1e-5;         ///< dopri5: relative tolerance
  double atol = 1e-5;         ///< dopri5: absolute tolerance
  Index max_steps = 10000;    ///< dopri5: budget of trial steps (accepted + rejected) per solve
  Index error_columns = -1;   ///< dopri5: columns of y under error control, from the first (−1: all)
};

/// Throws ValueError naming `where` for options no solver can honour.
inline void validate(const OdeOptions& options, const std::string& where) {
  if (options.method == OdeMethod::rk4 && options.steps < 1)
    throw ValueError(where + ": rk4 needs at least one step, found steps=" + std::to_string(options.steps));
  if (options.method == OdeMethod::dopri5) {
    if (!(options.rtol >= 0) || !(options.atol >= 0) || !(options.rtol + options.atol > 0) ||
        !std::isfinite(options.rtol) || !std::isfinite(options.atol))
      throw ValueError(where + ": dopri5 tolerances must be finite, non-negative and not both zero, found rtol=" +
                       std::to_string(options.rtol) + " atol=" + std::to_string(options.atol));
    if (options.rtol < 1e-13 && options.atol < 1e-13)
      throw ValueError(where + ": dopri5 tolerances below 1e-13 cannot be met in floating point, found rtol=" +
                       std::to_string(options.rtol) + " atol=" + std::to_string(options.atol));
    if (options.max_steps < 1)
      throw ValueError(where + ": max_steps must be positive, found " + std::to_string(options.max_steps));
  }
}

/// What one solve cost.
struct OdeStats {
  Index evaluations = 0;  ///< calls of f
  Index accepted = 0;
  Index rejected = 0;
};

namespace detail::ode {

// On a tape, a trial step is recorded and, if rejected, rewound; plain matrices need neither.
template <class S>
std::size_t mark(const Matrix<S>&) { return 0; }
template <class S>
std::size_t mark(const Var<S>& y) { return y.tape().size(); }
template <class S>
void rewind(const Matrix<S>&, std::size_t) {}
template <class S>
void rewind(const Var<S>& y, std::size_t size) { y.tape().rewind(size); }

/// y + h·Σ_j a_j·k_j over the non-zero a_j.
template <class V, class S, std::size_t N>
V combine(const V& y, S h, const std::array<double, N>& a, const std::array<const V*, N>& k) {
  V sum;
  bool started = false;
  for (std::size_t j = 0; j < N; ++j) {
    if (a[j] == 0) continue;
    V term = scale(*k[j], static_cast<S>(h * static_cast<S>(a[j])));
    sum = started ? add(sum, term) : term;
    started = true;
  }
  return add(y, sum);
}

template <class F, class V, class S>
V rk4_step(F& f, const V& y, S t, S h, OdeStats& stats) {
  const S half = h / S(2);
  const V k1 = f(t, y);
  const V k2 = f(t + half, add(y, scale(k1, half)));
  const V k3 = f(t + half, add(y, scale(k2, half)));
  const V k4 = f(t + h, add(y, scale(k3, h)));
  stats.evaluations += 4;
  return combine<V, S, 4>(y, h, {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6}, {&k1, &k2, &k3, &k4});
}

// Dormand–Prince 5(4) tableau: nodes c, stages a, the 5th-order weights b (= the
// last stage's a, so k7 = f(t + h, y_new) is the next step's k1), and e = b − b̂.
constexpr std::array<double, 7> dopri_c{0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
constexpr std::array<double, 7> dopri_e{71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525,
                                        -1.0 / 40};

/// One Dormand–Prince step from (t, y) with k1 = f(t, y); on return y_new and k7 = f(t + h, y_new).
template <class F, class V, class S>
double dopri5_step(F& f, const V& y, const V& k1, S t, S h, const OdeOptions& options, V& y_new, V& k7,
                   OdeStats& stats) {
  const auto at = [&](int i) { return static_cast<S>(t + static_cast<S>(dopri_c[i]) * h); };
  const V k2 = f(at(1), combine<V, S, 1>(y, h, {1.0 / 5}, {&k1}));
  const V k3 = f(at(2), combine<V, S, 2>(y, h, {3.0 / 40, 9.0 / 40}, {&k1, &k2}));
  const V k4 = f(at(3), combine<V, S, 3>(y, h, {44.0 / 45, -56.0 / 15, 32.0 / 9}, {&k1, &k2, &k3}));
  const V k5 = f(at(4), combine<V, S, 4>(y, h, {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
                                         {&k1, &k2, &k3, &k4}));
  const V k6 = f(t + h, combine<V, S, 5>(y, h, {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
                                         {&k1, &k2, &k3, &k4, &k5}));
  y_new = combine<V, S, 6>(y, h, {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
                           {&k1, &k2, &k3, &k4, &k5, &k6});
  k7 = f(t + h, y_new);
  stats.evaluations += 6;
  // The error estimate, on values only.
  const std::array<const Matrix<S>*, 7> k{&value_of(k1), &value_of(k2), &value_of(k3), &value_of(k4),
                                          &value_of(k5), &value_of(k6), &value_of(k7)};
  const Matrix<S>& y0 = value_of(y);
  const Matrix<S>& y1 = value_of(y_new);
  const Index columns = options.error_columns < 0 ? y0.cols() : std::min(options.error_columns, y0.cols());
  double sum = 0;
  for (Index j = 0; j < columns; ++j)
    for (Index i = 0; i < y0.rows(); ++i) {
      double err = 0;
      for (std::size_t s = 0; s < 7; ++s) err += dopri_e[s] * static_cast<double>((*k[s])(i, j));
      err *= static_cast<double>(h);
      const double scale = options.atol + options.rtol * std::max(std::abs(static_cast<double>(y0(i, j))),
                                                                   std::abs(static_cast<double>(y1(i, j))));
      sum += (err / scale) * (err / scale);
    }
  const double count = static_cast<double>(std::max<Index>(1, columns * y0.rows()));
  const double norm = std::sqrt(sum / count);
  return std::isfinite(norm) ? norm : std::numeric_limits<double>::infinity();
}

/// RMS of v / (atol + rtol·|y|) over the error columns: Hairer's norm for the first step size.
template <class S>
double scaled_norm(const Matrix<S>& v, const Matrix<S>& y, const OdeOptions& options) {
  const Index columns = options.error_columns < 0 ? y.cols() : std::min(options.error_columns, y.cols());
  double sum = 0;
  for (Index j = 0; j < columns; ++j)
    for (Index i = 0; i < y.rows(); ++i) {
      const double r = static_cast<double>(v(i, j)) /
                       (options.atol + options.rtol * std::abs(static_cast<double>(y(i, j))));
      sum += r * r;
    }
  return std::sqrt(sum / static_cast<double>(std::max<Index>(1, columns * y.rows())));
}

[[noreturn]] inline void throw_non_finite(const std::string& where, double t) {
  throw NumericalError(where + ": the ODE solution became non-finite at t=" + std::to_string(t));
}

}  // namespace detail::ode

/// y(t1) for dy/dt = f(t, y), y(t0) = y0; f(t, y) returns a value shaped like y.
/// V is Matrix<S> or Var<S> (then every accepted stage is recorded on y0's tape).
/// `grid`, if given, receives the accepted times t0, …, t1 (rk4: the fixed grid).
/// Throws NumericalError when dopri5 exceeds max_steps, when its step underflows,
/// or when the solution becomes non-finite; `where` names the caller in messages.
template <class S, class V, class F>
V solve_ode(F&& f, V y, S t0, S t1, const OdeOptions& options, OdeStats* stats_out = nullptr,
            std::vector<S>* grid = nullptr, const std::string& where = "solve_ode") {
  validate(options, where);
  OdeStats stats;
  if (grid) grid->assign(1, t0);
  if (t0 == t1) {
    if (stats_out) *stats_out = stats;
    return y;
  }
  if (options.method == OdeMethod::rk4) {
    const S h = (t1 - t0) / static_cast<S>(options.steps);
    for (Index step = 0; step < options.steps; ++step) {
      const S t = step + 1 == options.steps ? t1 - h : t0 + static_cast<S>(step) * h;
      y = detail::ode::rk4_step(f, y, t, h, stats);
      if (!value_of(y).allFinite()) detail::ode::throw_non_finite(where, static_cast<double>(t + h));
      if (grid) grid->push_back(step + 1 == options.steps ? t1 : t + h);
      ++stats.accepted;
    }
    if (stats_out) *stats_out = stats;
    return y;
  }
  const S direction = t1 > t0 ? S(1) : S(-1);
  const S span = std::abs(t1 - t0);
  V k1 = f(t0, y);
  ++stats.evaluations;
  if (!value_of(k1).allFinite()) detail::ode::throw_non_finite(where, static_cast<double>(t0));
  // First step (Hairer's starting step size): from ‖y0‖ and ‖f0‖, refined by one trial evaluation.
  S h;
  {
    const double d0 = detail::ode::scaled_norm(value_of(y), value_of(y), options);
    const double d1 = detail::ode::scaled_norm(value_of(k1), value_of(y), options);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    h0 = std::min(h0, static_cast<double>(span));
    const Matrix<S> y_trial = value_of(y) + static_cast<S>(direction * h0) * value_of(k1);
    const std::size_t before = detail::ode::mark(y);
    const Matrix<S> f_trial = value_of(f(static_cast<S>(t0 + direction * static_cast<S>(h0)),
                                         [&] {
                                           if constexpr (std::is_same_v<V, Matrix<S>>) return y_trial;
                                           else return y.tape().constant(y_trial);
                                         }()));
    detail::ode::rewind(y, before);
    ++stats.evaluations;
    const double d2 = detail::ode::scaled_norm<S>(f_trial - value_of(k1), value_of(y), options) / h0;
    const double big = std::max(d1, d2);
    const double h1 = big <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / big, 1.0 / 5);
    h = static_cast<S>(std::min({100 * h0, h1, static_cast<double>(span)}));
    if (!(h > S(0))) h = span;
  }
  S t = t0;
  Index trials = 0;
  bool rejected_last = false;
  while (direction * (t1 - t) > S(0)) {
    if (++trials > options.max_steps)
      throw NumericalError(where + ": dopri5 needed more than max_steps=" + std::to_string(options.max_steps) +
                           " steps between t=" + std::to_string(static_cast<double>(t0)) + " and t=" +
                           std::to_string(static_cast<double>(t1)) + " (stopped at t=" +
                           std::to_string(static_cast<double>(t)) + "); loosen rtol/atol or raise max_steps");
    const bool last = h >= direction * (t1 - t);
    const S step = last ? t1 - t : direction * h;
    if (std::abs(step) <= std::numeric_limits<S>::epsilon() * std::max(S(1), std::abs(t)) * S(4))
      throw NumericalError(where + ": dopri5 step size underflow at t=" + std::to_string(static_cast<double>(t)) +
                           " (the dynamics are too stiff for rtol/atol)");
    const std::size_t before = detail::ode::mark(y);
    V y_new, k7;
    const double error = detail::ode::dopri5_step(f, y, k1, t, step, options, y_new, k7, stats);
    double factor = error == 0 ? 10.0 : std::clamp(0.9 * std::pow(error, -0.2), 0.2, 10.0);
    if (error <= 1) {
      t = last ? t1 : t + step;
      y = y_new;
      k1 = k7;
      ++stats.accepted;
      if (rejected_last) factor = std::min(factor, 1.0);
      rejected_last = false;
      if (grid) grid->push_back(t);
    } else {
      detail::ode::rewind(y, before);
      ++stats.rejected;
      rejected_last = true;
      if (!std::isfinite(error) && !value_of(y).allFinite()) detail::ode::throw_non_finite(where, static_cast<double>(t));
    }
    h = static_cast<S>(std::abs(static_cast<double>(step)) * factor);
  }
  if (!value_of(y).allFinite()) detail::ode::throw_non_finite(where, static_cast<double>(t1));
  if (stats_out) *stats_out = stats;
  return y;
}

}  // namespace eigenflow
