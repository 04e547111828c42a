// eigenflow logprob: the log density of each point of a CSV under a model.
// For a model fitted to dequantised integers it is the log probability mass
// log P(x), estimated from below by log (1/K) Σ_k p(x + u_k) over K = --draws
// uniform draws (flows/dequantization.hpp).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include "options.hpp"

namespace eigenflow::cli {

template <class S>
int logprob_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  const Matrix<double> points = read_csv(o.in_path, flow.dim()).values;
  if (flow.dequantized().empty()) {
    write_csv(o.out, flow.log_prob(points.cast<S>()), {"log_prob"});
    return 0;
  }
  require_integer_columns(o.in_path, points, flow.dequantized());
  Random rng(o.seed);
  write_csv(o.out, dequantized_log_prob(flow, Matrix<S>(points.cast<S>()), flow.dequantized(), static_cast<Index>(o.draws), rng),
            {"log_prob"});
  return 0;
}

}  // namespace eigenflow::cli
