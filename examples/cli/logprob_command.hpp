// eigenflow logprob: the log density of each point of a CSV under a model.
// For a model fitted to dequantised integers it is the log probability mass
// log P(x), estimated from below by log (1/K) Σ_k p(x + u_k) over K = --draws
// uniform draws (flows/dequantization.hpp). For a conditional model the file
// holds x and the context c (the last K columns, or those of --context NAME,...)
// and the result is log p(x | c).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include "context.hpp"
#include "options.hpp"

namespace eigenflow::cli {

template <class S>
int logprob_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  if (flow.context_dim() > 0) {
    const PointsAndContext rows = read_points_and_context(o, o.in_path, flow.dim(), flow.context_dim());
    write_csv(o.out, flow.log_prob(rows.points.cast<S>(), rows.context.cast<S>()), {"log_prob"});
    return 0;
  }
  require(o.context_names.empty() && o.context_columns <= 0, "--context: this model is unconditional; it takes no context");
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
