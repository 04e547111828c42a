// eigenflow animate: base samples carried through the layers to data space (GIF).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <vector>

#include "context.hpp"
#include "gnuplot.hpp"
#include "options.hpp"

namespace eigenflow::cli {

template <class S>
int animate_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  if (flow.dim() != 2) throw ValueError("animate draws 2D models; this model has dimension " + std::to_string(flow.dim()));
  Random rng(o.seed);
  // a conditional model is animated at one context, --context v1,...
  const Matrix<S> context = context_for(o, flow.context_dim()).template cast<S>().replicate(o.samples, 1);
  const Matrix<S> z = flow.base().sample(flow.context_features(context), rng);
  const std::vector<Matrix<S>> frames = flow.inverse_trajectory(z, context);  // base -> … -> data, seed 000's animation
  ScratchDirectory scratch;
  Matrix<double> all(static_cast<Index>(frames.size()) * z.rows(), 2);
  for (std::size_t k = 0; k < frames.size(); ++k) {
    all.middleRows(static_cast<Index>(k) * z.rows(), z.rows()) = frames[k].template cast<double>();
    write_points(scratch.file("frame" + std::to_string(k) + ".dat"), frames[k].template cast<double>());
  }
  const auto [x_low, x_high] = robust_range(all.col(0));
  const auto [y_low, y_high] = robust_range(all.col(1));
  char ranges[256];
  std::snprintf(ranges, sizeof ranges, "set xrange [%g:%g]\nset yrange [%g:%g]\n", x_low, x_high, y_low, y_high);
  std::string script = "set terminal gif animate delay 60 loop 0 size 520,520 font 'Sans,10'\n";
  script += "set output '" + scratch.file("out.gif") + "'\n" + ranges + "set size ratio -1\nunset key\n";
  for (std::size_t k = 0; k < frames.size(); ++k) {
    const std::string title = k == 0 ? "base samples" : (k + 1 == frames.size() ? "data space (after all layers)" : "after inverting " + std::to_string(k) + " layer(s)");
    script += "set title '" + title + "'\nplot '" + scratch.file("frame" + std::to_string(k) + ".dat") +
              "' with points pt 7 ps 0.4 lc rgb '#d62728'\n";
  }
  run_gnuplot(scratch, script, scratch.file("out.gif"), o.out);
  return 0;
}

}  // namespace eigenflow::cli
