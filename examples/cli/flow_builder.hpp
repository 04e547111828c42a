// Builds the flow families the command line offers from its flags.
//   realnvp        L affine couplings, alternating masks, tanh-bounded scale (seeds 001, 003)
//   leaky-realnvp  L blocks of [LeakyReLU, affine coupling] (seed 000)
//   nice           L additive couplings and a learnable diagonal Gaussian base (the NICE scaling)
//   planar/radial  L planar or radial layers
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <memory>
#include <string>

namespace eigenflow::cli {

struct FlowSpec {
  std::string family = "realnvp";
  Index layers = 12;
  Index hidden = 32;
  Index depth = 2;
  Activation activation = Activation::relu;
  Conditioner conditioner = Conditioner::separate;
};

template <class S>
FlowStack<S> build_flow(const FlowSpec& spec, Index dim, Random& rng) {
  FlowStack<S> flow(dim);
  const ConditionerShape shape{spec.hidden, spec.depth, spec.activation};
  for (Index k = 0; k < spec.layers; ++k) {
    const int parity = static_cast<int>(k % 2);
    if (spec.family == "realnvp" || spec.family == "leaky-realnvp") {
      if (spec.family == "leaky-realnvp") flow.append(LeakyReLU<S>(dim, S(0.9)));
      flow.append(AffineCoupling<S>::make(alternating_mask<S>(dim, parity), shape, spec.conditioner, ScaleActivation::tanh, rng));
    } else if (spec.family == "nice") {
      flow.append(AdditiveCoupling<S>::make(alternating_mask<S>(dim, parity), spec.hidden, spec.depth, spec.activation, rng));
    } else if (spec.family == "planar") {
      flow.append(Planar<S>::random(dim, rng));
    } else if (spec.family == "radial") {
      flow.append(Radial<S>::random(dim, rng));
    } else {
      throw ValueError("unknown flow '" + spec.family + "' (expected realnvp, leaky-realnvp, nice, planar or radial)");
    }
  }
  if (spec.family == "nice") flow.set_base(std::make_unique<DiagonalGaussian<S>>(dim));
  return flow;
}

}  // namespace eigenflow::cli
