// eigenflow plot: data (or a variational-inference target's density), samples
// and the model density of a 2D model, side by side (PNG); for a conditional
// model, samples and density of p(x | c) at the context --context v1,...
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <fstream>
#include <optional>

#include "context.hpp"
#include "gnuplot.hpp"
#include "options.hpp"

namespace eigenflow::cli {

template <class S>
int plot_command(const Options& o, const FlowStack<S>& flow) {
  require_writable_destination(o.out);
  if (flow.dim() != 2) throw ValueError("plot draws 2D models; this model has dimension " + std::to_string(flow.dim()));
  Random rng(o.seed);
  const Matrix<S> context = context_for(o, flow.context_dim()).template cast<S>();  // 1 x K (K = 0: none)
  const Matrix<double> samples = flow.sample(3000, context, rng).template cast<double>();
  std::optional<Matrix<double>> data;  // the x columns of the data
  if (!o.data_path.empty())
    data = flow.context_dim() > 0 ? read_points_and_context(o, o.data_path, 2, flow.context_dim()).points
                                  : read_csv(o.data_path, 2).values;
  const Matrix<double>& reference = data ? *data : samples;
  const TargetInfo* target = o.target.empty() ? nullptr : &target_info(o.target);
  auto [x_low, x_high] = robust_range(reference.col(0));
  auto [y_low, y_high] = robust_range(reference.col(1));
  if (target) x_low = target->box[0], x_high = target->box[1], y_low = target->box[2], y_high = target->box[3];

  const Index cells = 160;
  Matrix<double> grid(cells * cells, 2);
  for (Index i = 0; i < cells; ++i)
    for (Index j = 0; j < cells; ++j)
      grid.row(i * cells + j) << x_low + (x_high - x_low) * (static_cast<double>(i) + 0.5) / cells,
          y_low + (y_high - y_low) * (static_cast<double>(j) + 0.5) / cells;
  const ColumnVector<double> density =
      flow.log_prob(grid.cast<S>(), Matrix<S>(context.replicate(grid.rows(), 1))).array().exp().template cast<double>();
  const auto write_density = [&](const std::string& path, const ColumnVector<double>& values) {
    std::ofstream out(path);
    for (Index i = 0; i < cells; ++i) {
      for (Index j = 0; j < cells; ++j) out << grid(i * cells + j, 0) << ' ' << grid(i * cells + j, 1) << ' ' << values(i * cells + j) << '\n';
      out << '\n';
    }
  };

  ScratchDirectory scratch;
  write_points(scratch.file("samples.dat"), samples);
  if (data) write_points(scratch.file("data.dat"), *data);
  write_density(scratch.file("density.dat"), density);
  if (target)  // exp(−U − log Z), the normalised target
    write_density(scratch.file("target.dat"),
                  (-make_builtin_target<double>(target->name).energy(grid).array() - target->log_normalizer).exp().matrix());
  char ranges[256];
  std::snprintf(ranges, sizeof ranges, "set xrange [%g:%g]\nset yrange [%g:%g]\n", x_low, x_high, y_low, y_high);
  const int panels = data || target ? 3 : 2;
  std::string script = "set terminal pngcairo size " + std::to_string(420 * panels) + ",440 font 'Sans,10'\n";
  script += "set output '" + scratch.file("out.png") + "'\n" + ranges;
  script += "set multiplot layout 1," + std::to_string(panels) + "\nset size ratio -1\nunset key\n";
  if (data) script += "set title 'data'\nplot '" + scratch.file("data.dat") + "' with points pt 7 ps 0.25 lc rgb '#1f77b4'\n";
  if (target)
    script += "set title 'target " + target->name + "'\nset palette rgb 34,35,36\nunset colorbox\nplot '" + scratch.file("target.dat") + "' with image\n";
  const std::string given = flow.context_dim() > 0 ? " given c = " + o.context_values : "";
  script += "set title 'samples from the flow" + given + "'\nplot '" + scratch.file("samples.dat") + "' with points pt 7 ps 0.25 lc rgb '#d62728'\n";
  script += "set title 'model density" + given + "'\nset palette rgb 34,35,36\nunset colorbox\nplot '" + scratch.file("density.dat") +
            "' with image\nunset multiplot\n";
  run_gnuplot(scratch, script, scratch.file("out.png"), o.out);
  return 0;
}

}  // namespace eigenflow::cli
