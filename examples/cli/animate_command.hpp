// eigenflow animate: base samples carried through the layers to data space (GIF);
// through a continuous flow, in frames along its time t instead of one per layer.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <cstdio>
#include <string>
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
  // base -> … -> data (seed 000's animation): a frame per layer, or per time step of an ODE layer
  std::vector<Matrix<S>> frames{z};
  std::vector<std::string> titles{"base samples"};
  const Matrix<S> features = flow.context_dim() > 0 ? flow.context_features(context) : Matrix<S>();
  const Matrix<S>* c = flow.context_dim() > 0 ? &features : nullptr;
  constexpr int time_frames = 12;
  for (std::size_t k = flow.size(); k-- > 0;) {
    const Layer<S>& layer = flow.layer(k);
    if (const auto* ode = dynamic_cast<const TimePath<S>*>(&layer)) {
      std::vector<S> times;
      for (int f = 1; f <= time_frames; ++f) times.push_back(ode->duration() * S(f) / S(time_frames));
      std::vector<Matrix<S>> path = ode->path(frames.back(), times, c);
      for (int f = 0; f < time_frames; ++f) {
        frames.push_back(std::move(path[static_cast<std::size_t>(f)]));
        char title[96];
        std::snprintf(title, sizeof title, "layer %zu (continuous): t = %.2f of %.2f", k + 1,
                      static_cast<double>(times[static_cast<std::size_t>(f)]), static_cast<double>(ode->duration()));
        titles.push_back(title);
      }
    } else {
      frames.push_back(c ? layer.inverse(frames.back(), *c).points : layer.inverse(frames.back()).points);
      titles.push_back("after inverting " + std::to_string(flow.size() - k) + " layer(s)");
    }
  }
  if (flow.preprocess()) {
    frames.push_back(flow.preprocess()->inverse(frames.back()).points);
    titles.push_back("");
  }
  titles.back() = "data space (after all layers)";
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
    script += "set title '" + titles[k] + "'\nplot '" + scratch.file("frame" + std::to_string(k) + ".dat") +
              "' with points pt 7 ps 0.4 lc rgb '#d62728'\n";
  }
  run_gnuplot(scratch, script, scratch.file("out.gif"), o.out);
  return 0;
}

}  // namespace eigenflow::cli
