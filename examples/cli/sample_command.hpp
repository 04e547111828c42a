// eigenflow sample: points drawn from a model (integers in the columns a
// dequantised model was fitted to: a sample of p, floored, is one of P).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include "options.hpp"

namespace eigenflow::cli {

template <class S>
int sample_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  require(o.samples >= 1, "--n must be at least 1");
  Random rng(o.seed);
  const Matrix<S> points = quantize(flow.sample(static_cast<Index>(o.samples), rng), flow.dequantized());
  write_csv(o.out, points, point_header(flow.dim()));
  return 0;
}

}  // namespace eigenflow::cli
