// FFJORD's dynamics (Grathwohl et al. 2019): a TimeMlp of [z | c] with t in
// every layer, f(z, t) = a_L. Its Jacobian-vector product is one forward-mode
// pass (g_0 = σ′(a_0) ⊙ v·W_{0,z}ᵀ, g_k = σ′(a_k) ⊙ g_{k−1}·W_kᵀ, (∂f/∂z)·v = g_{L−1}·W_Lᵀ),
// so the exact trace Σ_j e_jᵀ(∂f/∂z)e_j costs D such passes, the first and last
// layers of each reduced to one column of W_0 and one row of W_L; Hutchinson's
// estimator εᵀ(∂f/∂z)ε costs one (FFJORD eq. 7), for large D in training.
#pragma once

#include <string>
#include <vector>

#include "eigenflow/flows/continuous/dynamics.hpp"
#include "eigenflow/flows/continuous/time_mlp.hpp"

namespace eigenflow {

template <class S>
class MlpDynamics {
 public:
  static constexpr const char* name = "mlp";

  /// hidden x depth layers of σ (tanh or silu); the last layer starts at 0, so the flow starts as the identity.
  MlpDynamics(Index dim, Index hidden, Index depth, Activation activation, Index context_dim, Random& rng)
      : MlpDynamics(dim, TimeMlp<S>(dim + context_dim, hidden, depth, dim, activation, rng, 0.0)) {}

  MlpDynamics(Index dim, TimeMlp<S> net) : dim_(dim), net_(std::move(net)) {
    detail::require_positive_dim("MlpDynamics", dim);
    if (net_.depth() < 1) throw ValueError("MlpDynamics: needs at least one hidden layer (depth >= 1)");
    if (net_.input_dim() < dim || net_.output_dim() != dim)
      throw ShapeError("MlpDynamics: the network must map " + std::to_string(dim) + " (+ context) inputs to " +
                       std::to_string(dim) + " outputs, found " + std::to_string(net_.input_dim()) + " -> " +
                       std::to_string(net_.output_dim()));
    net_.set_name("cnf.net.");
  }

  Index dim() const { return dim_; }
  Index context_dim() const { return net_.input_dim() - dim_; }
  const TimeMlp<S>& net() const { return net_; }
  ParameterList<S> parameters() { return net_.parameters(); }

  /// The network's parameters, with the transposed weights and the pieces of W_0 and W_L the trace reads.
  template <class C>
  struct Bound {
    typename TimeMlp<S>::template Bound<C> net;
    std::vector<typename C::Value> transposed;   // W_kᵀ, k ≥ 1
    typename C::Value first_transposed;          // W_{0,z}ᵀ, D x H
    std::vector<typename C::Value> first_rows;   // (W_0 e_j)ᵀ, 1 x H
    std::vector<typename C::Value> last_rows;    // e_jᵀ W_L, 1 x H
  };
  template <class C>
  Bound<C> bind(C& context) const {
    Bound<C> bound{net_.bind(context), {}, {}, {}, {}};
    const auto& weight = bound.net.weight;
    bound.transposed.push_back(weight[0]);  // unused slot, keeps indices aligned
    for (std::size_t k = 1; k < weight.size(); ++k) bound.transposed.push_back(transpose(weight[k]));
    bound.first_transposed = transpose(columns(weight[0], 0, dim_));
    for (Index j = 0; j < dim_; ++j) {
      bound.first_rows.push_back(transpose(columns(weight[0], j, 1)));
      bound.last_rows.push_back(transpose(columns(bound.transposed.back(), j, 1)));
    }
    return bound;
  }

  template <class C>
  DynamicsEvaluation<typename C::Value> evaluate(C&, const Bound<C>& bound, const typename C::Value& z, S t,
                                                 const typename C::Value* given,
                                                 const TraceRequest<S>& request) const {
    using V = typename C::Value;
    const V input = given ? concat_columns(z, *given) : z;
    const auto pass = net_.template apply<C>(bound.net, &input, t, true);
    const std::size_t hidden_layers = pass.slope.size();
    // g_{L−1} from g_0: through the hidden layers after the first.
    const auto propagate = [&](V g) {
      for (std::size_t k = 1; k < hidden_layers; ++k) g = mul(pass.slope[k], matmul(g, bound.transposed[k]));
      return g;
    };
    DynamicsEvaluation<V> out;
    out.velocity = pass.output;
    if (request.probe == nullptr) {
      for (Index j = 0; j < dim_; ++j) {
        const std::size_t column = static_cast<std::size_t>(j);
        const V g = propagate(mul(pass.slope[0], bound.first_rows[column]));
        const V diagonal = row_sums(mul(g, bound.last_rows[column]));  // (∂f/∂z)_jj
        out.trace = j == 0 ? diagonal : add(out.trace, diagonal);
        if (request.jacobian) {
          const V norm = row_sums(square(matmul(g, bound.transposed.back())));  // ‖(∂f/∂z) e_j‖²
          out.jacobian = j == 0 ? norm : add(out.jacobian, norm);
        }
      }
    } else {
      const V probe = constant_like(z, *request.probe);
      const V g = propagate(mul(pass.slope[0], matmul(probe, bound.first_transposed)));
      const V product = matmul(g, bound.transposed.back());  // (∂f/∂z)·ε
      out.trace = row_sums(mul(probe, product));
      if (request.jacobian) out.jacobian = row_sums(square(product));
    }
    return out;
  }

 private:
  static Matrix<S> constant_like(const Matrix<S>&, const Matrix<S>& m) { return m; }
  static Var<S> constant_like(const Var<S>& z, const Matrix<S>& m) { return z.tape().constant(m); }

  Index dim_;
  TimeMlp<S> net_;
};

}  // namespace eigenflow
