// eigenflow sample: points drawn from a model.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include "options.hpp"

namespace eigenflow::cli {

template <class S>
int sample_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  require(o.samples >= 1, "--n must be at least 1");
  Random rng(o.seed);
  const Matrix<S> points = flow.sample(static_cast<Index>(o.samples), rng);
  write_csv(o.out, points, point_header(flow.dim()));
  return 0;
}

}  // namespace eigenflow::cli
