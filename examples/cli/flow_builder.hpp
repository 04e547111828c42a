// Builds the flow families the command line offers from its flags.
//   realnvp        L affine couplings, alternating masks, tanh-bounded scale (seeds 001, 003)
//   leaky-realnvp  L blocks of [LeakyReLU, affine coupling] (seed 000)
//   nice           L additive couplings and a learnable diagonal Gaussian base (the NICE scaling)
//   glow           L blocks of [ActNorm, LU-parameterised linear map, affine coupling] (Kingma & Dhariwal 2018)
//   planar/radial  L planar or radial layers; for variational inference (sampling = true) in the
//                  sampling direction, Rezende & Mohamed's z_k = z_{k−1} + u·h(wᵀz_{k−1} + b)
//   maf            L masked autoregressive layers, affine (Papamakarios et al. 2017)
//   iaf            L inverted MAF layers: one-pass sampling, D-pass density (Kingma et al. 2016)
//   nsf            L rational-quadratic spline couplings, alternating masks (Durkan et al. 2019, NSF-C)
//   nsf-ar         L masked autoregressive rational-quadratic spline layers (NSF-AR)
//   cnf            L continuous flows (FFJORD; seed 003): dynamics hyper-planar (seed 003's M
//                  time-dependent planar units from a hypernetwork of t) or mlp (FFJORD's
//                  MLP of [z, t]), solved by dopri5 to rtol/atol or by rk4 in fixed steps
// Coupling and autoregressive families can put a random permutation or a
// learned LU linear map between their layers (--mix) and an ActNorm before
// each (--actnorm); glow is realnvp with both, always. --batch-norm puts a
// batch-norm layer between the layers (as MAF does between its MADEs).
// Autoregressive families change the order between layers (--order): reverse
// alternates natural and reversed orders, random draws a seeded order per
// layer, natural keeps one order throughout.
// A conditional flow (context_dim K > 0) feeds the context to every coupling
// and autoregressive conditioner, and optionally to the base (conditional_base:
// a diagonal Gaussian whose mean and log-std are an MLP of c).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <memory>
#include <string>

namespace eigenflow::cli {

/// A continuous flow's settings (--dynamics, --width, --solver, ...).
struct CnfSpec {
  std::string dynamics = "mlp";  ///< hyper-planar | mlp
  Index width = 64;              ///< hyper-planar: planar units M (seed 003: 64)
  std::string solver = "dopri5";
  Index steps = 8;               ///< rk4
  // dopri5 at 1e-3 and RNODE weights 0.01 (Finlay et al. 2020) keep the solver at ~40
  // evaluations per solve; densities stay within ~1e-3 of the exact ODE map's
  double rtol = 1e-3, atol = 1e-3;
  std::string gradient = "backprop", trace = "exact";
  double kinetic = 0.01, jacobian = 0.01;

  OdeOptions solver_options() const {
    OdeOptions options;
    options.method = parse_ode_method(solver);
    options.steps = steps;
    options.rtol = rtol;
    options.atol = atol;
    return options;
  }
  CnfTraining training(std::uint64_t seed) const {
    CnfTraining out;
    out.gradient = parse_cnf_gradient(gradient);
    out.trace = parse_trace_estimator(trace);
    out.kinetic = kinetic;
    out.jacobian = jacobian;
    out.seed = seed;
    return out;
  }
};

struct FlowSpec {
  std::string family;  ///< empty: chosen from the data's dimension (train_defaults.hpp)
  Index layers = 0;  ///< 0: the family's default
  Index hidden = 0;  ///< 0: the family's default
  Index depth = 2;
  Activation activation = Activation::relu;
  Conditioner conditioner = Conditioner::separate;
  SplineShape spline;                  ///< nsf, nsf-ar
  std::string order = "reverse";       ///< maf, iaf, nsf-ar: natural | reverse | random
  std::string mix;                     ///< between coupling or autoregressive layers: none | permute | lu ("": none)
  bool actnorm = false;                ///< an ActNorm before each coupling or autoregressive layer
  bool batch_norm = false;             ///< a BatchNorm between coupling or autoregressive layers
  bool sampling = false;               ///< planar, radial: place them in the sampling direction (Inverted)
  bool conditional_base = false;       ///< conditional flows: the base's mean and log-std from c
  CnfSpec cnf;                         ///< cnf

  /// Layers and hidden width when not given: measured on two moons (benchmarks/README.md).
  Index default_layers() const {
    if (sampling && (family == "planar" || family == "radial")) return 32;  // Rezende & Mohamed's K = 32
    if (family == "maf" || family == "iaf" || family == "glow") return 8;
    if (family == "nsf") return 6;
    if (family == "nsf-ar" || family == "subspace") return 4;
    if (family == "cnf") return 1;
    return 12;
  }
  Index default_hidden() const {
    return family == "nsf-ar" || family == "maf" || family == "iaf" || family == "subspace" || (family == "cnf" && cnf.dynamics == "mlp") ? 64 : 32;
  }
  /// The coupling families (alternating-half masks).
  bool coupling() const { return family == "nsf" || family.find("realnvp") != std::string::npos || family == "nice" || family == "glow"; }
  Index resolved_layers() const { return layers > 0 ? layers : default_layers(); }
  Index resolved_hidden() const { return hidden > 0 ? hidden : default_hidden(); }
};

/// The input order of autoregressive layer k.
inline InputOrder layer_order(const std::string& order, Index k) {
  if (order == "random") return InputOrder::random;
  if (order == "natural") return InputOrder::natural;
  if (order == "reverse") return k % 2 == 0 ? InputOrder::natural : InputOrder::reverse;
  throw ValueError("unknown order '" + order + "' (expected natural, reverse or random)");
}

/// Continuous flow number k of the stack, as --dynamics and the solver flags say.
template <class S>
void append_continuous_flow(FlowStack<S>& flow, const FlowSpec& spec, Index dim, Index context_dim, Index k, Random& rng) {
  const CnfSpec& cnf = spec.cnf;
  const OdeOptions solver = cnf.solver_options();
  const CnfTraining training = cnf.training(rng() + static_cast<std::uint64_t>(k));
  if (cnf.dynamics == "hyper-planar") {
    flow.append(ContinuousFlow<S, HyperPlanarDynamics<S>>(
        HyperPlanarDynamics<S>(dim, cnf.width, spec.resolved_hidden(), context_dim, rng), solver, S(1), training));
  } else if (cnf.dynamics == "mlp") {
    flow.append(ContinuousFlow<S, MlpDynamics<S>>(
        MlpDynamics<S>(dim, spec.resolved_hidden(), spec.depth, spec.activation, context_dim, rng), solver, S(1), training));
  } else {
    throw ValueError("unknown dynamics '" + cnf.dynamics + "' (expected hyper-planar or mlp)");
  }
}

template <class S>
FlowStack<S> build_flow(const FlowSpec& spec, Index dim, Random& rng, Index context_dim = 0) {
  FlowStack<S> flow(dim, context_dim);
  const ConditionerShape shape{spec.resolved_hidden(), spec.depth, spec.activation, context_dim};
  const bool autoregressive = spec.family == "maf" || spec.family == "iaf" || spec.family == "nsf-ar";
  const bool coupling = spec.coupling();
  if ((autoregressive || coupling) && dim < 2 && context_dim == 0)
    throw ValueError("the " + spec.family + " flow needs data of dimension >= 2 (or a context), found " + std::to_string(dim));
  // alternating halves; one conditional dimension is transformed whole, as a function of c alone
  auto mask = [dim](int parity) { return dim == 1 ? RowVector<S>(RowVector<S>::Zero(1)) : alternating_mask<S>(dim, parity); };
  const bool continuous = spec.family == "cnf";
  if (context_dim > 0 && !(autoregressive || coupling || continuous))
    throw ValueError("the " + spec.family + " flow has no network to condition on a context; use a coupling, autoregressive "
                     "or continuous flow (realnvp, nice, glow, maf, iaf, nsf, nsf-ar, cnf)");
  if (spec.conditional_base && context_dim == 0) throw ValueError("a conditional base needs a context");
  const bool mixes = !spec.mix.empty() && spec.mix != "none";
  if (!(autoregressive || coupling) && (mixes || spec.actnorm || spec.batch_norm))
    throw ValueError("--mix, --actnorm and --batch-norm apply to coupling and autoregressive flows, not to " + spec.family);
  if (mixes && spec.mix != "permute" && spec.mix != "lu")
    throw ValueError("unknown mix '" + spec.mix + "' (expected none, permute or lu)");
  const std::string mix = spec.family == "glow" ? "lu" : spec.mix;
  for (Index k = 0; k < spec.resolved_layers(); ++k) {
    const int parity = static_cast<int>(k % 2);
    if (spec.batch_norm && k > 0) flow.append(BatchNorm<S>(dim));
    if (spec.actnorm || spec.family == "glow") flow.append(ActNorm<S>(dim));
    if (mix == "lu" && (k > 0 || spec.family == "glow")) flow.append(LuLinear<S>::random(dim, rng));
    if (mix == "permute" && k > 0) flow.append(Permutation<S>::random(dim, rng));
    if (spec.family == "realnvp" || spec.family == "leaky-realnvp" || spec.family == "glow") {
      if (spec.family == "leaky-realnvp") flow.append(LeakyReLU<S>(dim, S(0.9)));
      // glow's couplings start as the identity (Kingma & Dhariwal 2018, section 3.3: the last layer zeroed)
      flow.append(AffineCoupling<S>::make(mask(parity), shape, spec.conditioner, ScaleActivation::tanh, rng,
                                          spec.family == "glow"));
    } else if (spec.family == "nice") {
      flow.append(
          AdditiveCoupling<S>::make(mask(parity), shape.hidden, spec.depth, spec.activation, rng, false, context_dim));
    } else if (spec.family == "planar") {
      if (spec.sampling) flow.append(Inverted<Planar<S>>(Planar<S>::random(dim, rng)));
      else flow.append(Planar<S>::random(dim, rng));
    } else if (spec.family == "radial") {
      if (spec.sampling) flow.append(Inverted<Radial<S>>(Radial<S>::random(dim, rng)));
      else flow.append(Radial<S>::random(dim, rng));
    } else if (spec.family == "nsf") {
      flow.append(SplineCoupling<S>::make(mask(parity), shape, spec.spline, rng, true));
    } else if (continuous) {
      append_continuous_flow(flow, spec, dim, context_dim, k, rng);
    } else if (autoregressive) {
      const Transformer transformer = spec.family == "nsf-ar" ? Transformer::rational_quadratic(spec.spline) : Transformer::affine();
      auto layer = MaskedAutoregressive<S>::make(dim, transformer, shape, layer_order(spec.order, k), rng, true);
      if (spec.family == "iaf") flow.append(Inverted<MaskedAutoregressive<S>>(std::move(layer)));
      else flow.append(std::move(layer));
    } else {
      throw ValueError("unknown flow '" + spec.family +
                       "' (expected realnvp, leaky-realnvp, nice, glow, planar, radial, maf, iaf, nsf, nsf-ar or cnf)");
    }
  }
  if (spec.conditional_base)  // starts at N(0, I) for every c (its last layer zeroed)
    flow.set_base(std::make_unique<ConditionalDiagonalGaussian<S>>(dim, ConditionerShape{shape.hidden, 1, spec.activation, context_dim}, rng));
  else if (spec.family == "nice")
    flow.set_base(std::make_unique<DiagonalGaussian<S>>(dim));
  return flow;
}

}  // namespace eigenflow::cli
