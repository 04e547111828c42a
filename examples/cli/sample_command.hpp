// eigenflow sample: points drawn from a model (integers in the columns a
// dequantised model was fitted to: a sample of p, floored, is one of P). A
// conditional model samples p(x | c) at --context v1,... or at each row of
// --context-file, and writes rows [x | c], the layout train and logprob read.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include "context.hpp"
#include "options.hpp"

namespace eigenflow::cli {

template <class S>
int sample_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  Random rng(o.seed);
  const Index k = flow.context_dim();
  if (k == 0) {
    require(o.context_values.empty() && o.context_file.empty(), "--context: this model is unconditional; it takes no context");
    require(o.samples >= 1, "--n must be at least 1");
    const Matrix<S> points = quantize(flow.sample(static_cast<Index>(o.samples), rng), flow.dequantized());
    write_csv(o.out, points, point_header(flow.dim()));
    return 0;
  }
  require(o.context_values.empty() != o.context_file.empty(),
          "this model is conditional on " + std::to_string(k) + " context values; give either --context v1,... or --context-file C.csv");
  Matrix<double> contexts = o.context_file.empty() ? context_for(o, k) : read_points(o.context_file, k);  // finite, both
  // one context for all --n points, or one per row of the file (--n, if given, must match)
  const Index n = o.samples > 0 ? static_cast<Index>(o.samples) : contexts.rows();
  require(contexts.rows() == 1 || contexts.rows() == n,
          "--n " + std::to_string(n) + " does not match the " + std::to_string(contexts.rows()) + " rows of '" + o.context_file + "'");
  if (contexts.rows() != n) contexts = contexts.replicate(n, 1).eval();
  const Matrix<S> points = quantize(flow.sample(n, Matrix<S>(contexts.cast<S>()), rng), flow.dequantized());
  Matrix<double> rows(n, flow.dim() + k);
  rows << points.template cast<double>(), contexts;
  write_csv(o.out, rows, points_and_context_header(flow.dim(), k));
  return 0;
}

}  // namespace eigenflow::cli
