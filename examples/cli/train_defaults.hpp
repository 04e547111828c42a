// The training defaults that depend on the data: its dimension D and the
// number of training rows N. Every flag the user sets wins; −1 (or 0 for
// layers and hidden) means "choose". The rule, measured in benchmarks/README.md
// ("Training defaults"):
//   batch     64, or N/250 rounded to a power of two for large N (at most 512),
//             so an epoch stays about 250 steps
//   epochs    300 for D ≤ 2 (two moons keeps improving to the end; cnf 100, each of its
//             steps solves an ODE); for D ≥ 3 about
//             15,000 steps in all, between 30 and 300 epochs, because beyond 2D the
//             validation optimum comes after a fixed number of steps, not epochs
//   patience  early stopping after max(20, epochs / 2) epochs without a better
//             validation NLL; the run ends with the best epoch's parameters when they
//             are clearly better than the last's (TrainOptions::keep_best)
//   weight decay 1e-2 for D ≤ 2; for D ≥ 3, 1600/N between 0.1 and 1: beyond 2D the
//             flows memorise their points, and less data needs a stronger pull
//   jitter    0.03, or 0 for dequantised or bounded data and for cnf (its noise costs a
//             continuous flow more nats than it saves)
//   mix       lu for coupling flows beyond 2D (alternating halves alone never let two
//             coordinates of one half depend on each other: on mixed-moons at D = 8 with
//             its moons unmixed, nsf lost 0.40 nats with none, 0.24 with lu), none otherwise
//   bins      8, or 4 for nsf beyond 2D: its conditioners output (3K − 1) numbers per
//             coordinate, and beyond 2D they memorise their rows (mixed-moons D = 8, N = 5,000,
//             four draws: KL mean 0.29 with 8 bins, 0.22 with 4; N = 20,000: 0.10–0.11 against
//             0.09; wine better, diabetes and digits a little worse); nsf-ar gained nothing from 4
//   flow      realnvp for D ≤ 2 (seeds 000 to 003); for D ≥ 3 the subspace flow (a flow on
//             the k least Gaussian directions, a Gaussian on the rest, k chosen on validation:
//             mixed-moons D = 8, N = 5,000 KL 0.06 against nsf's 0.23), kept only when clearly
//             better than nsf on validation (train_command.hpp, fit_default_beyond_2d), or nsf where the subspace
//             flow does not apply (conditional, --bounded or --dequantize data) and for a
//             conditional density of one column (its couplings would be affine in x: a Gaussian given c)
//   subspace  its own training defaults (subspace_command.hpp): batch 256 (N/16, at least 32, for
//             N < 4,096), 500 epochs, patience 60,
//             weight decay 1e-4, no jitter; the search's budget 100 s
#pragma once

#include <algorithm>
#include <cmath>

#include "options.hpp"

namespace eigenflow::cli {

inline long long default_batch(Index train_rows) {
  long long batch = 64;
  while (batch < 512 && static_cast<double>(train_rows) / static_cast<double>(batch) > 500) batch *= 2;
  return batch;
}

/// o with every data-dependent default chosen for N training rows in D dimensions.
inline Options with_data_defaults(Options o, Index train_rows, Index dim, Index context_dim = 0) {
  const bool beyond_2d = dim >= 3;
  if (o.flow.family.empty()) {
    const bool subspace = beyond_2d && context_dim == 0 && o.bounded.empty() && !o.dequantize;
    o.flow.family = subspace ? "subspace" : beyond_2d || (dim == 1 && context_dim > 0) ? "nsf" : "realnvp";
  }
  if (o.flow.family == "subspace") {  // measured on mixed-moons D = 4 to 32 (benchmarks/README.md, "Subspace flows")
    // 256, or N/16 (at least 32) for small N: an epoch of at least 16 steps, so that early
    // stopping after 60 epochs is not 60 steps (wine's 142 rows in one batch stopped untrained)
    if (o.batch < 0) o.batch = std::clamp<long long>(static_cast<long long>(train_rows) / 16, 32, 256);
    if (o.epochs < 0) o.epochs = 500;
    if (o.patience < 0) o.patience = 60;
    if (o.weight_decay < 0) o.weight_decay = 1e-4;
    if (o.jitter < 0) o.jitter = 0;
  }
  if (o.batch < 0) o.batch = default_batch(train_rows);
  const long long steps_per_epoch = (train_rows + o.batch - 1) / o.batch;
  const bool continuous = o.flow.family == "cnf";
  if (o.epochs < 0)
    o.epochs = beyond_2d ? std::clamp<long long>((15000 + steps_per_epoch - 1) / steps_per_epoch, 30, 300) : continuous ? 100 : 300;
  if (o.patience < 0) o.patience = std::max<long long>(20, o.epochs / 2);
  if (o.weight_decay < 0) o.weight_decay = beyond_2d ? std::clamp(1600.0 / static_cast<double>(train_rows), 0.1, 1.0) : 1e-2;
  if (o.bins > 0) o.flow.spline.bins = o.bins;
  else if (beyond_2d && o.flow.family == "nsf") o.flow.spline.bins = 4;
  if (o.flow.mix.empty()) o.flow.mix = beyond_2d && o.flow.coupling() ? "lu" : "none";  // glow has lu always
  if (o.start.empty()) o.start = "standard";
  if (o.jitter < 0) o.jitter = o.dequantize || !o.bounded.empty() || continuous ? 0 : 0.03;
  return o;
}

}  // namespace eigenflow::cli
