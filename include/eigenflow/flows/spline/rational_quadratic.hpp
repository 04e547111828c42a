// The monotonic rational-quadratic spline of Durkan et al. 2019, "Neural
// Spline Flows" (section 3.1, eqs. 4–8, appendix A), applied elementwise with
// per-element parameters θ, as one fused op (plain and taped).
//
// On [−B, B] with K bins: knots (x_k, y_k), k = 0..K, and derivatives δ_k > 0.
// In bin k, with w = x_{k+1} − x_k, h = y_{k+1} − y_k, s = h/w, ξ = (x − x_k)/w:
//   y      = y_k + h·(s ξ² + δ_k ξ(1−ξ)) / (s + (δ_{k+1} + δ_k − 2s) ξ(1−ξ))            (eq. 4)
//   dy/dx  = s²·(δ_{k+1} ξ² + 2s ξ(1−ξ) + δ_k (1−ξ)²) / (s + (δ_{k+1} + δ_k − 2s) ξ(1−ξ))²   (eq. 5)
//   inverse: ξ = 2c / (−b − √(b² − 4ac)), the root of a ξ² + b ξ + c = 0 that does not
//            cancel, with a = h(s − δ_k) + (y − y_k)(δ_{k+1} + δ_k − 2s),
//            b = hδ_k − (y − y_k)(δ_{k+1} + δ_k − 2s), c = −s(y − y_k)                   (eqs. 6–8)
// Outside [−B, B] the map is the identity (linear tails); δ_0 = δ_K = 1 so the
// tails join with a continuous derivative.
//
// Parameters: 3K − 1 per transformed coordinate, parameter-major in θ's
// columns (column p·D + i is parameter p of coordinate i): K raw widths, K raw
// heights, K − 1 raw interior derivatives, normalised as
//   widths  w = m + (1 − K·m)·softmax(raw_w)·2B     (likewise heights; m = 1e-3)
//   δ_k = m_δ + softplus(raw_δ_k + c₀),  c₀ = log(e^{1−m_δ} − 1), so raw = 0 gives δ = 1,
// and an all-zero θ is the identity map (a zero-initialised network starts there).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>

#include "eigenflow/autodiff/context.hpp"
#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/functions.hpp"

namespace eigenflow {

/// Bins and tail bound of a rational-quadratic spline.
struct SplineShape {
  static constexpr Index max_bins = 128;
  Index bins = 8;
  /// B: the spline acts on [−B, B], the identity outside. Flows standardise
  /// their input first, but the layers inside a stack spread it: on two moons
  /// B = 5 beat B = 4 (held-out gap 0.029 against 0.031 nats, NSF and NSF-AR)
  /// and B = 3 lost (0.042); 8 bins are then 1.25 standard deviations wide.
  double tail_bound = 5.0;

  Index params_per_dim() const { return 3 * bins - 1; }
  void validate(const std::string& where) const {
    if (bins < 2 || bins > max_bins)
      throw ValueError(where + ": bins must be in [2, " + std::to_string(max_bins) + "], found " + std::to_string(bins));
    if (!(std::isfinite(tail_bound) && tail_bound > 0))
      throw ValueError(where + ": tail_bound must be a positive finite number, found " + std::to_string(tail_bound));
  }
};

namespace detail {

constexpr double spline_min_bin = 1e-3;
constexpr double spline_min_derivative = 1e-3;
/// c₀ = log(e^{1−m_δ} − 1): m_δ + softplus(0 + c₀) = 1, so a zero raw derivative gives δ = 1.
inline double spline_derivative_shift() { return std::log(std::expm1(1.0 - spline_min_derivative)); }

/// y and log dy/dx inside one bin (eqs. 4 and 5).
template <class T>
void rational_quadratic_bin(const T& x, const T& x0, const T& x1, const T& y0, const T& y1, const T& d0, const T& d1,
                            T& y, T& log_slope) {
  const T w = x1 - x0, h = y1 - y0;
  const T s = h / w;
  const T xi = (x - x0) / w;
  const T one_minus = T(1) - xi;
  const T both = xi * one_minus;
  const T denominator = s + (d1 + d0 - T(2) * s) * both;
  y = y0 + h * (s * xi * xi + d0 * both) / denominator;
  // One log of the whole ratio: s ≤ 2B/(2B·m) = 1e3 and every δ ≥ 1e-3, so
  // s²·(…)/denominator² stays far inside float's range.
  const T ratio = s / denominator;
  log_slope = std::log(ratio * ratio * (d1 * xi * xi + T(2) * s * both + d0 * one_minus * one_minus));
}

/// Every element's normalised parameters, laid out as θ (column p·D + i): the
/// width and height softmax probabilities, then δ_k for the interior knots.
/// Computed over whole column blocks, so the exps and log1ps run on the CPU's
/// vectors (one exp kernel call over the table; scalar expf and log1pf per
/// element were a fifth of an NSF-AR training step).
template <class S>
Matrix<S> spline_table(const Matrix<S>& theta, Index bins, Index dim) {
  Matrix<S> table(theta.rows(), theta.cols());
  const auto block = [dim](auto& m, Index p) { return m.middleCols(p * dim, dim); };
  for (const Index first : {Index(0), bins}) {  // softmax_k(raw_k) = e^{raw_k − max} / Σ e^{raw_j − max}
    Matrix<S> largest = block(theta, first);
    for (Index k = 1; k < bins; ++k) largest = largest.cwiseMax(block(theta, first + k));
    for (Index k = 0; k < bins; ++k) block(table, first + k) = block(theta, first + k) - largest;
  }
  // δ = m_δ + softplus(z), z = raw + c₀: = m_δ + max(z, 0) + log1p(e^{−|z|}).
  const S shift = S(spline_derivative_shift());
  const Index interior = (bins - 1) * dim;
  table.rightCols(interior) = -(theta.rightCols(interior).array() + shift).abs().matrix();
  fn::evaluate<fn::Exp>(table, table);
  for (const Index first : {Index(0), bins}) {
    Matrix<S> total = block(table, first);
    for (Index k = 1; k < bins; ++k) total += block(table, first + k);
    for (Index k = 0; k < bins; ++k) block(table, first + k).array() /= total.array();
  }
  table.rightCols(interior).array() = S(spline_min_derivative) + (theta.rightCols(interior).array() + shift).max(S(0)) +
                                      table.rightCols(interior).array().log1p();
  return table;
}

/// The partials of eqs. 4 and 5 along (x, x_k, x_{k+1}, y_k, y_{k+1}, δ_k, δ_{k+1}):
/// dy[i] = ∂y/∂·, dlog[i] = ∂ log dy/dx / ∂·. With ξ, s, h, δ's as the free variables,
///   y = y_k + h·q, q = N/den, N = sξ² + δ_k ξ(1−ξ), den = s + (δ_{k+1} + δ_k − 2s) ξ(1−ξ)
///   log y' = 2 log s + log M − 2 log den,  M = δ_{k+1}ξ² + 2s ξ(1−ξ) + δ_k(1−ξ)²
/// then through ξ = (x − x_k)/w, s = h/w, w = x_{k+1} − x_k, h = y_{k+1} − y_k.
template <class S>
void rational_quadratic_bin_partials(S x, S x0, S x1, S y0, S y1, S d0, S d1, std::array<S, 7>& dy, std::array<S, 7>& dlog) {
  const S w = x1 - x0, h = y1 - y0, inv_w = S(1) / w;
  const S s = h * inv_w, xi = (x - x0) * inv_w, one_minus = S(1) - xi, both = xi * one_minus;
  const S c = d1 + d0 - S(2) * s, den = s + c * both, inv_den = S(1) / den;
  const S q = (s * xi * xi + d0 * both) * inv_den;
  const S m = d1 * xi * xi + S(2) * s * both + d0 * one_minus * one_minus, inv_m = S(1) / m;
  // ∂den: along ξ c(1 − 2ξ), along s 1 − 2ξ(1−ξ), along either δ ξ(1−ξ).
  const S den_xi = c * (S(1) - S(2) * xi), den_s = S(1) - S(2) * both;
  // y's partials along ξ, s, h, δ_k, δ_{k+1} (and 1 along y_k).
  const S y_xi = h * ((S(2) * s * xi + d0 * (S(1) - S(2) * xi)) - q * den_xi) * inv_den;
  const S y_s = h * (xi * xi - q * den_s) * inv_den;
  const S y_h = q, y_d0 = h * (both - q * both) * inv_den, y_d1 = -h * q * both * inv_den;
  // log y′'s along the same.
  const S l_xi = (S(2) * d1 * xi + S(2) * s * (S(1) - S(2) * xi) - S(2) * d0 * one_minus) * inv_m - S(2) * den_xi * inv_den;
  const S l_s = S(2) / s + S(2) * both * inv_m - S(2) * den_s * inv_den;
  const S l_d0 = one_minus * one_minus * inv_m - S(2) * both * inv_den, l_d1 = xi * xi * inv_m - S(2) * both * inv_den;
  const auto chain = [&](S f_xi, S f_s, S f_h, S f_y0, S f_d0, S f_d1, std::array<S, 7>& out) {
    out[0] = f_xi * inv_w;
    out[1] = (f_xi * (xi - S(1)) + f_s * s) * inv_w;
    out[2] = -(f_xi * xi + f_s * s) * inv_w;
    out[3] = f_y0 - f_s * inv_w - f_h;
    out[4] = f_s * inv_w + f_h;
    out[5] = f_d0;
    out[6] = f_d1;
  };
  chain(y_xi, y_s, y_h, S(1), y_d0, y_d1, dy);
  chain(l_xi, l_s, S(0), S(0), l_d0, l_d1, dlog);
}

/// One coordinate's knots from its row of spline_table.
template <class S>
struct SplineKnots {
  Index bins = 0;
  // Entries past `bins` are never read, so none is zeroed: the arrays are
  // sized for 128 bins and one set is built per element.
  std::array<S, SplineShape::max_bins + 1> x, y;
  std::array<S, SplineShape::max_bins> width_p, height_p;  // the softmax probabilities, kept for backward
  std::array<S, SplineShape::max_bins + 1> delta;           // δ_k, k = 0..K

  template <class Table>
  SplineKnots(const Table& table, Index row, Index column, Index dim, Index bins_, S bound) : bins(bins_) {
    const S min_bin = S(spline_min_bin);
    normalise(table, row, column, dim, 0, bound, min_bin, x, width_p);
    normalise(table, row, column, dim, bins, bound, min_bin, y, height_p);
    delta[0] = delta[static_cast<std::size_t>(bins)] = S(1);
    for (Index k = 1; k < bins; ++k) delta[static_cast<std::size_t>(k)] = table(row, (2 * bins + k - 1) * dim + column);
  }

  /// δ_k: 1 at the boundary knots (the tails join smoothly), m_δ + softplus(raw + c₀) inside.
  S derivative(Index k) const { return delta[static_cast<std::size_t>(k)]; }

  /// The bin holding v among knots (v in [knots_0, knots_K]): the number of
  /// interior knots ≤ v, counted without branches (a binary search mispredicts
  /// on every element); v ≥ knots_K falls in the last bin.
  Index bin(const std::array<S, SplineShape::max_bins + 1>& knots, S v) const {
    Index k = 0;
    for (Index i = 1; i < bins; ++i) k += knots[static_cast<std::size_t>(i)] <= v ? 1 : 0;
    return k;
  }

 private:
  // knots_0 = −B, knots_k = −B + 2B·Σ_{j<k} (m + (1 − K m)·softmax(raw)_j), knots_K = B exactly.
  template <class Table>
  void normalise(const Table& table, Index row, Index column, Index dim, Index first, S bound, S min_bin,
                 std::array<S, SplineShape::max_bins + 1>& knots, std::array<S, SplineShape::max_bins>& p) const {
    knots[0] = -bound;
    S cumulative = 0;
    for (Index k = 0; k < bins; ++k) {
      p[static_cast<std::size_t>(k)] = table(row, (first + k) * dim + column);
      if (k + 1 < bins) {
        cumulative += min_bin + (S(1) - min_bin * S(bins)) * p[static_cast<std::size_t>(k)];
        knots[static_cast<std::size_t>(k + 1)] = -bound + S(2) * bound * cumulative;
      }
    }
    knots[static_cast<std::size_t>(bins)] = bound;
  }
};

/// ξ in bin k for a given output v (eqs. 6–8), clamped to [0, 1] against rounding,
/// then polished by two Newton steps ξ ← ξ − (y(ξ) − v) / (w·y′(ξ)): when the
/// derivatives of a bin differ by orders of magnitude the closed-form root
/// loses digits to cancellation (backward error 4e-12 seen), the steps bring
/// y(ξ) back to within a few ulp of v.
template <class S>
S rational_quadratic_inverse_xi(const SplineKnots<S>& knots, Index k, S d0, S d1, S v) {
  const auto u = static_cast<std::size_t>(k);
  const S w = knots.x[u + 1] - knots.x[u], h = knots.y[u + 1] - knots.y[u];
  const S s = h / w;
  const S offset = v - knots.y[u], sum = d1 + d0 - S(2) * s;
  const S a = h * (s - d0) + offset * sum;
  const S b = h * d0 - offset * sum;
  const S c = -s * offset;
  const S discriminant = std::max(S(0), b * b - S(4) * a * c);
  const S root = -b - std::sqrt(discriminant);
  S xi = std::min(S(1), std::max(S(0), root == S(0) ? S(0) : S(2) * c / root));
  for (int step = 0; step < 2; ++step) {
    S y, log_slope;
    rational_quadratic_bin(knots.x[u] + xi * w, knots.x[u], knots.x[u + 1], knots.y[u], knots.y[u + 1], d0, d1, y, log_slope);
    const S change = (y - v) / (std::exp(log_slope) * w);
    if (!std::isfinite(change)) break;
    xi = std::min(S(1), std::max(S(0), xi - change));
  }
  return xi;
}

/// The spline in one direction over every element: out (N x D+1) holds the
/// mapped points and, in its last column, each row's Σ log|dout/din|.
/// Columns with active(j) = 0 pass through unchanged; table is spline_table(θ).
template <class S, class Table, class Active>
void rational_quadratic_values(const Matrix<S>& in, const Table& table, const Active& active, Index bins, S bound,
                               bool inverse, Matrix<S>& out) {
  const Index n = in.rows(), dim = in.cols();
  out.resize(n, dim + 1);
  out.leftCols(dim) = in;
  out.col(dim).setZero();
  for (Index j = 0; j < dim; ++j) {
    if (active(0, j) == S(0)) continue;
    for (Index r = 0; r < n; ++r) {
      const S v = in(r, j);
      if (!(v >= -bound && v <= bound)) continue;  // linear tails (and NaN stays NaN)
      const SplineKnots<S> knots(table, r, j, dim, bins, bound);
      const auto& from = inverse ? knots.y : knots.x;
      const Index k = knots.bin(from, v);
      const auto u = static_cast<std::size_t>(k);
      const S d0 = knots.derivative(k), d1 = knots.derivative(k + 1);
      const S x = inverse ? knots.x[u] + rational_quadratic_inverse_xi(knots, k, d0, d1, v) * (knots.x[u + 1] - knots.x[u]) : v;
      S y, log_slope;
      rational_quadratic_bin(x, knots.x[u], knots.x[u + 1], knots.y[u], knots.y[u + 1], d0, d1, y, log_slope);
      out(r, j) = inverse ? x : y;
      out(r, dim) += inverse ? -log_slope : log_slope;
    }
  }
}

template <class S>
void rational_quadratic_backward(Tape<S>& tape, std::size_t self) {
  auto& node = tape.node(self);
  auto& in = tape.node(node.input[0]);
  auto& theta = tape.node(node.input[1]);
  const Index bins = node.integer[0];
  const bool inverse = node.integer[1] != 0;
  const S bound = node.scalar[0];
  const Index n = in.value.rows(), dim = in.value.cols();
  const auto& g = node.adjoint;  // N x (D+1): points, then the row's log-det
  const auto table = node.saved.topRows(n);
  for (Index j = 0; j < dim; ++j) {
    if (node.saved(n, j) == S(0)) {
      in.adjoint.col(j) += g.col(j);
      continue;
    }
    for (Index r = 0; r < n; ++r) {
      const S v = in.value(r, j);
      if (!(v >= -bound && v <= bound)) {
        in.adjoint(r, j) += g(r, j);
        continue;
      }
      const SplineKnots<S> knots(table, r, j, dim, bins, bound);
      const Index k = knots.bin(inverse ? knots.y : knots.x, v);
      const auto u = static_cast<std::size_t>(k);
      const S x = inverse ? node.value(r, j) : v;
      std::array<S, 7> dy, dlog;  // along (x, x_k, x_{k+1}, y_k, y_{k+1}, δ_k, δ_{k+1})
      rational_quadratic_bin_partials(x, knots.x[u], knots.x[u + 1], knots.y[u], knots.y[u + 1], knots.derivative(k),
                                      knots.derivative(k + 1), dy, dlog);
      std::array<S, 7> d_out{}, d_log{};  // d(output)/d·, d(row log-det)/d·; slot 0 is the op's input
      if (!inverse) {
        d_out = dy;
        d_log = dlog;
      } else {  // x = y⁻¹(v): dx/dv = 1/y', dx/dθ = −(∂y/∂θ)/y'; log-det −log y'(x)
        const S slope = dy[0];
        d_out[0] = S(1) / slope;
        for (int i = 1; i < 7; ++i) d_out[i] = -dy[i] / slope;
        d_log[0] = -dlog[0] * d_out[0];
        for (int i = 1; i < 7; ++i) d_log[i] = -(dlog[i] + dlog[0] * d_out[i]);
      }
      const S g_point = g(r, j), g_log = g(r, dim);
      std::array<S, 7> grad{};
      for (int i = 0; i < 7; ++i) grad[i] = g_point * d_out[i] + g_log * d_log[i];
      in.adjoint(r, j) += grad[0];
      // Knots back to raw parameters: x_m = −B + 2B·Σ_{i<m} w_i for 0 < m < K, so
      // dL/dw_i = 2B·Σ_{m>i, 0<m<K} dL/dx_m; then through m + (1 − K m)·softmax.
      // (x_0 = −B and x_K = B are fixed: their partials drop.) No per-bin buffer:
      // zeroing one of max_bins per element was a tenth of this pass.
      for (int axis = 0; axis < 2; ++axis) {
        const S g_lo = k >= 1 ? grad[static_cast<std::size_t>(1 + 2 * axis)] : S(0);
        const S g_hi = k + 1 <= bins - 1 ? grad[static_cast<std::size_t>(2 + 2 * axis)] : S(0);
        const auto g_w = [&](Index i) { return S(2) * bound * ((i < k ? g_lo : S(0)) + (i <= k ? g_hi : S(0))); };
        const auto& p = axis == 0 ? knots.width_p : knots.height_p;
        S weighted = 0;
        for (Index i = 0; i < bins; ++i) weighted += p[static_cast<std::size_t>(i)] * g_w(i);
        const S squeeze = S(1) - S(spline_min_bin) * S(bins);
        for (Index i = 0; i < bins; ++i)
          theta.adjoint(r, (axis * bins + i) * dim + j) += squeeze * p[static_cast<std::size_t>(i)] * (g_w(i) - weighted);
      }
      // δ_m = m_δ + softplus(raw + c₀) for interior m: dδ/draw = sigmoid(raw + c₀).
      const S shift = S(spline_derivative_shift());
      for (int side = 0; side < 2; ++side) {
        const Index m = k + side;
        if (m < 1 || m > bins - 1) continue;
        const Index column = (2 * bins + m - 1) * dim + j;
        theta.adjoint(r, column) += grad[static_cast<std::size_t>(5 + side)] * fn::Sigmoid::value(theta.value(r, column) + shift);
      }
    }
  }
}

template <class S>
void check_spline_inputs(const Matrix<S>& in, const Matrix<S>& theta, const Matrix<S>& active, const SplineShape& shape) {
  shape.validate("rational_quadratic_spline");
  if (theta.rows() != in.rows() || theta.cols() != shape.params_per_dim() * in.cols())
    throw ShapeError("rational_quadratic_spline: expected parameters of shape " +
                     shape_string(in.rows(), shape.params_per_dim() * in.cols()) + " for points of shape " +
                     shape_string(in.rows(), in.cols()) + ", found " + shape_string(theta.rows(), theta.cols()));
  if (active.rows() != 1 || active.cols() != in.cols())
    throw ShapeError("rational_quadratic_spline: the active-column mask must be 1x" + std::to_string(in.cols()));
}

}  // namespace detail

/// The spline of each active column of `in` (N x D) under parameters theta
/// (N x (3K−1)·D), forward (x → y) or inverse (y → x): the mapped points and
/// each row's Σ log|d out / d in| (N x 1). Plain matrices.
template <class S>
std::pair<Matrix<S>, Matrix<S>> rational_quadratic_spline(const Matrix<S>& in, const Matrix<S>& theta,
                                                          const Matrix<S>& active, const SplineShape& shape, bool inverse) {
  detail::check_spline_inputs(in, theta, active, shape);
  Matrix<S> out;
  detail::rational_quadratic_values(in, detail::spline_table(theta, shape.bins, in.cols()), active, shape.bins,
                                    S(shape.tail_bound), inverse, out);
  return {out.leftCols(in.cols()), out.rightCols(1)};
}

/// The same recorded on a tape, one node whose backward gives d/d in and d/d theta.
template <class S>
std::pair<Var<S>, Var<S>> rational_quadratic_spline(const Var<S>& in, const Var<S>& theta, const Matrix<S>& active,
                                                    const SplineShape& shape, bool inverse) {
  detail::require_same_tape("rational_quadratic_spline", in, theta);
  detail::check_spline_inputs(in.value(), theta.value(), active, shape);
  Tape<S>& tape = in.tape();
  auto& node = tape.push(in.rows(), in.cols() + 1, &detail::rational_quadratic_backward<S>);
  node.input = {in.index(), theta.index()};
  node.integer = {shape.bins, inverse ? 1 : 0};
  node.scalar[0] = S(shape.tail_bound);
  // saved: spline_table(θ) in its first N rows, for the backward pass too; the
  // active-column mask in the first D entries of row N.
  const Index n = in.rows(), dim = in.cols();
  node.saved.resize(n + 1, theta.cols());
  node.saved.topRows(n) = detail::spline_table(theta.value(), shape.bins, dim);
  node.saved.row(n).setZero();
  node.saved.row(n).head(dim) = active;
  detail::rational_quadratic_values(in.value(), node.saved.topRows(n), node.saved.row(n), shape.bins, S(shape.tail_bound),
                                    inverse, node.value);
  const Var<S> both = tape.last();
  return {columns(both, 0, in.cols()), columns(both, in.cols(), 1)};
}

}  // namespace eigenflow
