// eigenflow logprob: the log density of each point of a CSV under a model.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include "options.hpp"

namespace eigenflow::cli {

template <class S>
int logprob_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  const Matrix<double> points = read_csv(o.in_path, flow.dim()).values;
  const ColumnVector<S> log_prob = flow.log_prob(points.cast<S>());
  write_csv(o.out, log_prob, {"log_prob"});
  return 0;
}

}  // namespace eigenflow::cli
