// Seed 003's continuous-flow dynamics (section 3, eq. 8; the hypernetwork CNF
// of torchdiffeq's example, Chen et al. 2018): M time-dependent planar units
//   f(z, t) = (1/M) Σ_m u_m(t)·tanh(w_m(t)ᵀz + b_m(t)),
//   [w, û, g, b](t) = TimeMlp(t [| c]),  u_m = û_m ⊙ sigmoid(g_m)   (a gated u, as in the example),
// whose Jacobian is (1/M) Σ_m tanh′(a_m)·u_m w_mᵀ, so
//   tr ∂f/∂z = (1/M) Σ_m tanh′(a_m)·w_mᵀu_m       (exact and O(M·D) per point),
//   (∂f/∂z)·v = (1/M) Σ_m tanh′(a_m)·(w_mᵀv)·u_m.
// The hypernetwork reads t (and a context c: then every point has its own units).
#pragma once

#include <string>
#include <vector>

#include "eigenflow/flows/continuous/dynamics.hpp"
#include "eigenflow/flows/continuous/time_mlp.hpp"

namespace eigenflow {

template <class S>
class HyperPlanarDynamics {
 public:
  static constexpr const char* name = "hyper_planar";

  /// width units M; the hypernetwork has two tanh layers of `hidden` units (seed 003: M = 64, hidden 32).
  HyperPlanarDynamics(Index dim, Index width, Index hidden, Index context_dim, Random& rng)
      : HyperPlanarDynamics(dim, width, TimeMlp<S>(context_dim, hidden, 2, outputs(dim, width), Activation::tanh, rng)) {}

  /// From a hypernetwork whose output is [w | û | g | b], each block unit-major within a coordinate
  /// (column d·M + m of the w block is w_m's coordinate d).
  HyperPlanarDynamics(Index dim, Index width, TimeMlp<S> net) : dim_(dim), width_(width), net_(std::move(net)) {
    detail::require_positive_dim("HyperPlanarDynamics", dim);
    if (width < 1) throw ValueError("HyperPlanarDynamics: width must be positive, found " + std::to_string(width));
    if (net_.output_dim() != outputs(dim, width))
      throw ShapeError("HyperPlanarDynamics: the hypernetwork must have 3·M·D + M = " +
                       std::to_string(outputs(dim, width)) + " outputs, found " + std::to_string(net_.output_dim()));
    net_.set_name("cnf.hypernet.");
  }

  static Index outputs(Index dim, Index width) { return 3 * width * dim + width; }

  Index dim() const { return dim_; }
  Index context_dim() const { return net_.input_dim(); }
  Index width() const { return width_; }
  const TimeMlp<S>& net() const { return net_; }
  ParameterList<S> parameters() { return net_.parameters(); }

  template <class C>
  using Bound = typename TimeMlp<S>::template Bound<C>;
  template <class C>
  Bound<C> bind(C& context) const { return net_.bind(context); }

  template <class C>
  DynamicsEvaluation<typename C::Value> evaluate(C&, const Bound<C>& bound, const typename C::Value& z, S t,
                                                 const typename C::Value* given,
                                                 const TraceRequest<S>& request) const {
    using V = typename C::Value;
    const Index M = width_, D = dim_;
    const V p = net_.template apply<C>(bound, given, t, false).output;  // 1 x P, or N x P with a context
    std::vector<V> w, u, z_columns;
    for (Index d = 0; d < D; ++d) {
      w.push_back(columns(p, d * M, M));
      u.push_back(mul(columns(p, (D + d) * M, M), sigmoid(columns(p, (2 * D + d) * M, M))));
      z_columns.push_back(columns(z, d, 1));
    }
    V a = columns(p, 3 * D * M, M);  // b
    for (Index d = 0; d < D; ++d) a = add(a, mul(z_columns[d], w[d]));
    const V h = tanh(a);
    const V slope = add_scalar(scale(square(h), S(-1)), S(1));
    std::vector<V> velocity;
    for (Index d = 0; d < D; ++d) velocity.push_back(row_means(mul(h, u[d])));
    DynamicsEvaluation<V> out;
    out.velocity = detail::concat_all(velocity);
    // (∂f/∂z)·v from q = tanh′(a) ⊙ Σ_d v_d w_d: component i is (1/M) Σ_m q_m u_mi.
    const auto jacobian_times = [&](const V& q) {
      std::vector<V> parts;
      for (Index i = 0; i < D; ++i) parts.push_back(row_means(mul(q, u[i])));
      return parts;
    };
    if (request.probe == nullptr) {
      V wu = mul(w[0], u[0]);
      for (Index d = 1; d < D; ++d) wu = add(wu, mul(w[d], u[d]));
      out.trace = row_means(mul(slope, wu));
      if (request.jacobian) {  // Σ_j ‖(∂f/∂z) e_j‖²
        V total;
        for (Index j = 0; j < D; ++j) {
          const std::vector<V> column = jacobian_times(mul(slope, w[j]));
          for (Index i = 0; i < D; ++i) total = (i == 0 && j == 0) ? square(column[i]) : add(total, square(column[i]));
        }
        out.jacobian = total;
      }
    } else {
      const Matrix<S>& probe = *request.probe;
      V projected = mul(constant_like(z, probe.col(0)), w[0]);
      for (Index d = 1; d < D; ++d) projected = add(projected, mul(constant_like(z, probe.col(d)), w[d]));
      const V product = detail::concat_all(jacobian_times(mul(slope, projected)));  // (∂f/∂z)·ε
      out.trace = row_sums(mul(constant_like(z, probe), product));
      if (request.jacobian) out.jacobian = row_sums(square(product));
    }
    return out;
  }

 private:
  // A constant with z's tape (or a plain matrix).
  static Matrix<S> constant_like(const Matrix<S>&, const Matrix<S>& m) { return m; }
  static Var<S> constant_like(const Var<S>& z, const Matrix<S>& m) { return z.tape().constant(m); }

  Index dim_, width_;
  TimeMlp<S> net_;
};

}  // namespace eigenflow
