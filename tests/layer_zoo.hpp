// Every layer type with random parameters, for the conformance tests.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace eigenflow::test {

struct LayerCase {
  std::string name;
  std::function<std::unique_ptr<Layer<double>>(Index dim, Random& rng)> make;
  /// A bijection of all of R^D; false for a map from a box (logit), which the tests
  /// feed only points of its box (every case's box holds [-3, 3]^D).
  bool whole_space = true;
  /// Columns of the context c the layer is conditioned on (0: unconditional). The tests
  /// pass every conditional case a context and check it, like x, in the same loop.
  Index context_dim = 0;
};

/// The context width of the conditional cases.
inline constexpr Index zoo_context_dim = 2;

/// A layer's four verbs with the case's context, or without one when it has none.
inline Transformed<double> forward_given(const Layer<double>& layer, const Matrix<double>& x, const Matrix<double>& c) {
  return c.cols() > 0 ? layer.forward(x, c) : layer.forward(x);
}
inline Transformed<double> inverse_given(const Layer<double>& layer, const Matrix<double>& z, const Matrix<double>& c) {
  return c.cols() > 0 ? layer.inverse(z, c) : layer.inverse(z);
}
inline TapedTransformed<double> forward_given(Tape<double>& tape, Layer<double>& layer, const Var<double>& x,
                                              const Var<double>& c) {
  return c.value().cols() > 0 ? layer.forward(tape, x, c) : layer.forward(tape, x);
}
inline TapedTransformed<double> inverse_given(Tape<double>& tape, Layer<double>& layer, const Var<double>& z,
                                              const Var<double>& c) {
  return c.value().cols() > 0 ? layer.inverse(tape, z, c) : layer.inverse(tape, z);
}

/// softplus⁻¹(y) = log(expm1(y)): the raw value that softplus maps to y (for large y as
/// y + log(1 − e^(−y)), where expm1 would overflow).
inline double inverse_softplus(double y) { return y > 30 ? y + std::log(-std::expm1(-y)) : std::log(std::expm1(y)); }

/// A planar layer whose ûᵀw = m (any m > −1), with random directions.
inline Planar<double> planar_with_m(Index dim, Random& rng, double m) {
  RowVector<double> w(dim);
  for (Index j = 0; j < dim; ++j) w(j) = rng.uniform(-1, 1) + (j == 0 ? 1.5 : 0.0);
  // wᵀu = softplus⁻¹(m + 1), so that −1 + softplus(wᵀu) = m.
  RowVector<double> u = w * (inverse_softplus(m + 1.0) / w.squaredNorm());
  return Planar<double>(u, w, rng.uniform(-0.5, 0.5));
}

/// An LU-parameterised linear layer away from orthogonal: random factors, both signs.
inline LuLinear<double> random_lu_linear(Index dim, Random& rng) {
  std::vector<Index> perm(static_cast<std::size_t>(dim));
  for (Index j = 0; j < dim; ++j) perm[static_cast<std::size_t>(j)] = j;
  rng.shuffle(perm.begin(), perm.end());
  Matrix<double> factors(dim, dim);
  for (Index i = 0; i < dim; ++i)
    for (Index j = 0; j < dim; ++j) factors(i, j) = rng.uniform(-0.6, 0.6) / std::sqrt(double(dim));
  RowVector<double> sign(dim), log_abs_s(dim);
  for (Index j = 0; j < dim; ++j) {
    sign(j) = rng.uniform(0, 1) < 0.5 ? -1.0 : 1.0;
    log_abs_s(j) = rng.uniform(-0.5, 0.5);
  }
  return LuLinear<double>(perm, factors, factors, sign, log_abs_s);
}

/// A dense W = I + noise, well conditioned.
inline Matrix<double> random_weight(Index dim, Random& rng) {
  Matrix<double> w = Matrix<double>::Identity(dim, dim);
  for (Index i = 0; i < dim; ++i)
    for (Index j = 0; j < dim; ++j) w(i, j) += rng.uniform(-0.4, 0.4) / std::sqrt(double(dim));
  return w;
}

/// A continuous flow solved to 1e-12 (dopri5), so that its inverse and log-det are
/// exact to the conformance tolerances; MLP dynamics with a random last layer
/// (the default starts at the identity).
template <class Dynamics>
std::unique_ptr<Layer<double>> tight_cnf(Dynamics dynamics) {
  OdeOptions solver;
  solver.rtol = solver.atol = 1e-12;
  return std::make_unique<ContinuousFlow<double, Dynamics>>(std::move(dynamics), solver);
}
/// Loosens the solver of every continuous layer of a stack to rtol = atol = tolerance: enough
/// for the integration tests (a grid of a million points), whose error is the grid's.
inline void loosen_continuous_layers(FlowStack<double>& flow, double tolerance) {
  OdeOptions solver;
  solver.rtol = solver.atol = tolerance;
  for (std::size_t k = 0; k < flow.size(); ++k) {
    if (auto* layer = dynamic_cast<ContinuousFlow<double, HyperPlanarDynamics<double>>*>(&flow.layer(k))) layer->set_solver(solver);
    if (auto* layer = dynamic_cast<ContinuousFlow<double, MlpDynamics<double>>*>(&flow.layer(k))) layer->set_solver(solver);
  }
}
inline MlpDynamics<double> random_mlp_dynamics(Index d, Index context_dim, Activation activation, Random& rng) {
  return MlpDynamics<double>(d, TimeMlp<double>(d + context_dim, 6, 2, d, activation, rng, 1.0));
}

/// An elementwise spline with random θ (6 bins on [-2.5, 2.5], so the test points reach the tails too);
/// θ within ±0.4 keeps bin widths within a factor e^0.8 of each other, which the finite-difference
/// Jacobians (step 1e-5) and the 2-D integration grid (cells of 0.02) resolve: at ±1.5 neither did.
inline ElementwiseSpline<double> random_elementwise_spline(Index dim, Random& rng) {
  const SplineShape shape{6, 2.5};
  RowVector<double> theta(shape.params_per_dim() * dim);
  for (Index j = 0; j < theta.cols(); ++j) theta(j) = rng.uniform(-0.4, 0.4);
  return ElementwiseSpline<double>(theta, shape);
}

/// A subspace layer over the first k of d coordinates (k = 0, 1, d − 1 or d in the zoo) whose
/// inner flow mixes and couples the k: [LU, spline coupling, affine coupling] for k ≥ 2, or
/// [elementwise spline, planar] for k = 1; with a context, [LU, affine coupling | c] (one coordinate:
/// transformed whole as a function of c; smooth, so the conditional stack's integration grid resolves it).
inline std::unique_ptr<Layer<double>> random_subspace(Index d, Index k, Random& rng, Index context_dim = 0) {
  auto subspace = std::make_unique<Subspace<double>>(d, k);
  if (k == 0) return subspace;
  if (context_dim > 0) {
    subspace->append(std::make_unique<LuLinear<double>>(random_lu_linear(k, rng)));
    const RowVector<double> mask = k == 1 ? RowVector<double>(RowVector<double>::Zero(1)) : alternating_mask(k, 0);
    subspace->append(std::make_unique<AffineCoupling<double>>(AffineCoupling<double>::make(
        mask, {12, 2, Activation::tanh, context_dim}, Conditioner::separate, ScaleActivation::tanh, rng)));
  } else if (k == 1) {
    subspace->append(std::make_unique<ElementwiseSpline<double>>(random_elementwise_spline(1, rng)));
    subspace->append(std::make_unique<Planar<double>>(planar_with_m(1, rng, 0.7)));
  } else {
    subspace->append(std::make_unique<LuLinear<double>>(random_lu_linear(k, rng)));
    subspace->append(std::make_unique<SplineCoupling<double>>(
        SplineCoupling<double>::make(alternating_mask(k, 1), {12, 2, Activation::tanh}, {6, 2.5}, rng)));
    subspace->append(std::make_unique<AffineCoupling<double>>(AffineCoupling<double>::make(
        alternating_mask(k, 0), {12, 2, Activation::gelu}, Conditioner::shared, ScaleActivation::tanh, rng)));
  }
  return subspace;
}

inline std::vector<LayerCase> all_layer_cases() {
  using L = std::unique_ptr<Layer<double>>;
  return {
      {"leaky_relu", [](Index d, Random&) -> L { return std::make_unique<LeakyReLU<double>>(d, 0.6); }},
      {"affine_coupling (separate, tanh)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<AffineCoupling<double>>(AffineCoupling<double>::make(
             alternating_mask(d, 0), {12, 2, Activation::tanh}, Conditioner::separate, ScaleActivation::tanh, rng));
       }},
      {"affine_coupling (shared, identity scale)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<AffineCoupling<double>>(AffineCoupling<double>::make(
             checkerboard_mask(d, 1), {12, 2, Activation::gelu}, Conditioner::shared, ScaleActivation::identity, rng));
       }},
      {"additive_coupling",
       [](Index d, Random& rng) -> L {
         return std::make_unique<AdditiveCoupling<double>>(
             AdditiveCoupling<double>::make(alternating_mask(d, 1), 12, 2, Activation::silu, rng));
       }},
      {"planar", [](Index d, Random& rng) -> L { return std::make_unique<Planar<double>>(planar_with_m(d, rng, 0.8)); }},
      {"planar (contracting, m = -0.6)",
       [](Index d, Random& rng) -> L { return std::make_unique<Planar<double>>(planar_with_m(d, rng, -0.6)); }},
      {"radial",
       [](Index d, Random& rng) -> L {
         RowVector<double> z0(d);
         for (Index j = 0; j < d; ++j) z0(j) = rng.uniform(-0.5, 0.5);
         return std::make_unique<Radial<double>>(z0, rng.uniform(-1, 1), rng.uniform(-1, 1));
       }},
      {"permutation", [](Index d, Random& rng) -> L { return std::make_unique<Permutation<double>>(Permutation<double>::random(d, rng)); }},
      {"inverted planar",
       [](Index d, Random& rng) -> L { return std::make_unique<Inverted<Planar<double>>>(planar_with_m(d, rng, 0.5)); }},
      {"maf (affine, random order)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<MaskedAutoregressive<double>>(MaskedAutoregressive<double>::make(
             d, Transformer::affine(), {12, 2, Activation::tanh}, InputOrder::random, rng));
       }},
      {"iaf (inverted maf, reverse order)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<Inverted<MaskedAutoregressive<double>>>(MaskedAutoregressive<double>::make(
             d, Transformer::affine(), {12, 2, Activation::gelu}, InputOrder::reverse, rng));
       }},
      {"nsf-ar (spline, natural order, random hidden degrees)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<MaskedAutoregressive<double>>(MaskedAutoregressive<double>::make(
             d, Transformer::rational_quadratic({5, 2.5}), {12, 2, Activation::tanh}, InputOrder::natural, rng, false,
             HiddenDegrees::random));
       }},
      {"nsf coupling",
       [](Index d, Random& rng) -> L {
         return std::make_unique<SplineCoupling<double>>(
             SplineCoupling<double>::make(alternating_mask(d, 1), {12, 2, Activation::tanh}, {6, 2.5}, rng));
       }},
      {"inverted radial",
       [](Index d, Random& rng) -> L {
         return std::make_unique<Inverted<Radial<double>>>(Radial<double>::random(d, rng));
       }},
      {"actnorm",
       [](Index d, Random& rng) -> L {
         RowVector<double> bias(d), log_scale(d);
         for (Index j = 0; j < d; ++j) {
           bias(j) = rng.uniform(-1, 1);
           log_scale(j) = rng.uniform(-0.7, 0.7);
         }
         return std::make_unique<ActNorm<double>>(bias, log_scale, true);
       }},
      {"batch_norm (population statistics)",
       [](Index d, Random& rng) -> L {
         RowVector<double> log_gamma(d), beta(d), mean(d), variance(d);
         for (Index j = 0; j < d; ++j) {
           log_gamma(j) = rng.uniform(-0.5, 0.5);
           beta(j) = rng.uniform(-1, 1);
           mean(j) = rng.uniform(-1, 1);
           variance(j) = rng.uniform(0.3, 3);
         }
         return std::make_unique<BatchNorm<double>>(log_gamma, beta, mean, variance, 1e-3);
       }},
      {"lu_linear", [](Index d, Random& rng) -> L { return std::make_unique<LuLinear<double>>(random_lu_linear(d, rng)); }},
      {"dense_linear", [](Index d, Random& rng) -> L { return std::make_unique<DenseLinear<double>>(random_weight(d, rng)); }},
      {"standardize",
       [](Index d, Random& rng) -> L {
         RowVector<double> shift(d), scale(d);
         for (Index j = 0; j < d; ++j) {
           shift(j) = rng.uniform(-1, 1);
           scale(j) = rng.uniform(0.5, 2);
         }
         return std::make_unique<Standardize<double>>(shift, scale);
       }},
      {"logit",
       [](Index d, Random& rng) -> L {
         RowVector<double> lo(d), hi(d);
         for (Index j = 0; j < d; ++j) {
           lo(j) = rng.uniform(-3.6, -3.2);
           hi(j) = rng.uniform(3.2, 3.6);
         }
         return std::make_unique<Logit<double>>(lo, hi, 0.02);
       },
       false},
      {"elementwise spline",
       [](Index d, Random& rng) -> L { return std::make_unique<ElementwiseSpline<double>>(random_elementwise_spline(d, rng)); }},
      {"subspace (k = 0)", [](Index d, Random& rng) -> L { return random_subspace(d, 0, rng); }},
      {"subspace (k = 1)", [](Index d, Random& rng) -> L { return random_subspace(d, 1, rng); }},
      {"subspace (k = D - 1)", [](Index d, Random& rng) -> L { return random_subspace(d, d - 1, rng); }},
      {"subspace (k = D)", [](Index d, Random& rng) -> L { return random_subspace(d, d, rng); }},
      {"cnf (hyper_planar dynamics)",
       [](Index d, Random& rng) -> L { return tight_cnf(HyperPlanarDynamics<double>(d, 4, 5, 0, rng)); }},
      {"cnf (mlp dynamics, silu)",
       [](Index d, Random& rng) -> L { return tight_cnf(random_mlp_dynamics(d, 0, Activation::silu, rng)); }},
      // Conditional forms of every layer with a network: its conditioner reads [x-part | c].
      {"affine_coupling | c (separate, tanh)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<AffineCoupling<double>>(AffineCoupling<double>::make(
             alternating_mask(d, 1), {12, 2, Activation::tanh, zoo_context_dim}, Conditioner::separate, ScaleActivation::tanh, rng));
       },
       true, zoo_context_dim},
      {"affine_coupling | c (shared)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<AffineCoupling<double>>(AffineCoupling<double>::make(
             checkerboard_mask(d, 0), {12, 2, Activation::gelu, zoo_context_dim}, Conditioner::shared, ScaleActivation::identity, rng));
       },
       true, zoo_context_dim},
      {"additive_coupling | c",
       [](Index d, Random& rng) -> L {
         return std::make_unique<AdditiveCoupling<double>>(
             AdditiveCoupling<double>::make(alternating_mask(d, 0), 12, 2, Activation::silu, rng, false, zoo_context_dim));
       },
       true, zoo_context_dim},
      {"maf | c (affine, random order)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<MaskedAutoregressive<double>>(MaskedAutoregressive<double>::make(
             d, Transformer::affine(), {12, 2, Activation::tanh, zoo_context_dim}, InputOrder::random, rng));
       },
       true, zoo_context_dim},
      {"iaf | c (inverted maf)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<Inverted<MaskedAutoregressive<double>>>(MaskedAutoregressive<double>::make(
             d, Transformer::affine(), {12, 2, Activation::gelu, zoo_context_dim}, InputOrder::reverse, rng));
       },
       true, zoo_context_dim},
      {"nsf-ar | c (spline, random hidden degrees)",
       [](Index d, Random& rng) -> L {
         return std::make_unique<MaskedAutoregressive<double>>(MaskedAutoregressive<double>::make(
             d, Transformer::rational_quadratic({5, 2.5}), {12, 2, Activation::tanh, zoo_context_dim}, InputOrder::natural, rng,
             false, HiddenDegrees::random));
       },
       true, zoo_context_dim},
      {"nsf coupling | c",
       [](Index d, Random& rng) -> L {
         return std::make_unique<SplineCoupling<double>>(
             SplineCoupling<double>::make(alternating_mask(d, 0), {12, 2, Activation::tanh, zoo_context_dim}, {6, 2.5}, rng));
       },
       true, zoo_context_dim},
      {"subspace | c (k = D - 1)",
       [](Index d, Random& rng) -> L { return random_subspace(d, d - 1, rng, zoo_context_dim); }, true, zoo_context_dim},
      {"cnf | c (hyper_planar dynamics)",
       [](Index d, Random& rng) -> L { return tight_cnf(HyperPlanarDynamics<double>(d, 4, 5, zoo_context_dim, rng)); },
       true, zoo_context_dim},
      {"cnf | c (mlp dynamics, tanh)",
       [](Index d, Random& rng) -> L { return tight_cnf(random_mlp_dynamics(d, zoo_context_dim, Activation::tanh, rng)); },
       true, zoo_context_dim},
  };
}

}  // namespace eigenflow::test
