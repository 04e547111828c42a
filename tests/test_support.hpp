// Helpers shared by the test files: seeded random matrices, model-file errors.
#pragma once

#include <eigenflow/core/isa.hpp>
#include <eigenflow/core/random.hpp>
#include <eigenflow/core/types.hpp>
#include <eigenflow/io/model_file.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace eigenflow::test {

/// Every kernel path this CPU and build support (core/isa.hpp), narrowest first.
inline std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (const Isa isa : {Isa::portable, Isa::avx2, Isa::avx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

/// Runs the kernels on `isa` while in scope, then on the path that was active before.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : previous_(active_isa()) { set_isa(isa); }
  ~ScopedIsa() { set_isa(previous_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa previous_;
};

/// Entries uniform in [low, high).
inline Matrix<double> uniform_matrix(Random& rng, Index rows, Index cols, double low = -1.0, double high = 1.0) {
  Matrix<double> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(low, high);
  return m;
}

/// Entries with |x| in [low, high) and random sign: keeps away from kinks at 0.
inline Matrix<double> away_from_zero(Random& rng, Index rows, Index cols, double low = 0.1, double high = 2.0) {
  Matrix<double> m = uniform_matrix(rng, rows, cols, low, high);
  for (Index i = 0; i < m.size(); ++i)
    if (rng.uniform() < 0.5) m.data()[i] = -m.data()[i];
  return m;
}

/// Midpoints and widths of midpoint-rule cells along one axis.
struct GridAxis {
  std::vector<double> mid, width;
};

/// `cells` equal cells on [low, high].
inline GridAxis uniform_axis(double low, double high, Index cells) {
  GridAxis axis;
  for (Index k = 0; k < cells; ++k) {
    const double h = (high - low) / static_cast<double>(cells);
    axis.mid.push_back(low + (static_cast<double>(k) + 0.5) * h);
    axis.width.push_back(h);
  }
  return axis;
}

/// `fine` equal cells on [-inner, inner], then cells of about `coarse` out to ±outer: the
/// tails, where a density is smooth, need far fewer points than the bulk.
inline GridAxis graded_axis(double inner, Index fine, double outer = 0, double coarse = 1) {
  const Index tail = outer > inner ? static_cast<Index>(std::ceil((outer - inner) / coarse)) : 0;
  GridAxis axis = uniform_axis(-outer, -inner, tail);
  for (const GridAxis& part : {uniform_axis(-inner, inner, fine), uniform_axis(inner, outer, tail)}) {
    axis.mid.insert(axis.mid.end(), part.mid.begin(), part.mid.end());
    axis.width.insert(axis.width.end(), part.width.begin(), part.width.end());
  }
  return axis;
}

/// An integral and what it cost: `error_estimate` sums |Q₄ − Q₁| over the accepted cells (below).
struct Integral {
  double value = 0, error_estimate = 0;
  Index evaluations = 0;
};

/// ∫ exp(log_density) over the square the axis spans (both coordinates), adaptively: each
/// cell is estimated by its midpoint (Q₁) and by the midpoints of its four quarters (Q₄);
/// where |Q₄ − Q₁| ≤ cell_tolerance, Q₄ is taken, else the cell is split into its quarters
/// (whose midpoints are already known) and each is tested again, down to `max_depth` splits.
/// A flow's density is smooth but for kinks and jumps along curves (leaky ReLU, spline
/// knots), where a uniform grid needs its finest spacing everywhere: this one spends the
/// points only along them. Every level is one batch of log_density calls.
template <class Density>
Integral integrate_2d(const Density& log_density, const GridAxis& x_axis, const GridAxis& y_axis, double cell_tolerance,
                      int max_depth = 10) {
  struct Cell {
    double x, y, width, height, midpoint_rule;
  };
  const auto nx = static_cast<Index>(x_axis.mid.size()), ny = static_cast<Index>(y_axis.mid.size());
  Matrix<double> points(nx * ny, 2);
  for (Index i = 0; i < nx; ++i)
    for (Index j = 0; j < ny; ++j) {
      points(i * ny + j, 0) = x_axis.mid[static_cast<std::size_t>(i)];
      points(i * ny + j, 1) = y_axis.mid[static_cast<std::size_t>(j)];
    }
  ColumnVector<double> log_p = log_density(points);
  Integral integral;
  integral.evaluations = nx * ny;
  std::vector<Cell> cells;
  for (Index i = 0; i < nx; ++i)
    for (Index j = 0; j < ny; ++j) {
      const double width = x_axis.width[static_cast<std::size_t>(i)], height = y_axis.width[static_cast<std::size_t>(j)];
      cells.push_back({points(i * ny + j, 0), points(i * ny + j, 1), width, height,
                       std::exp(log_p(i * ny + j)) * width * height});
    }
  for (int depth = 0; !cells.empty(); ++depth) {
    const auto m = static_cast<Index>(cells.size());
    points.resize(4 * m, 2);
    for (Index k = 0; k < m; ++k) {
      const Cell& cell = cells[static_cast<std::size_t>(k)];
      for (Index q = 0; q < 4; ++q) {
        points(4 * k + q, 0) = cell.x + ((q & 1) ? 0.25 : -0.25) * cell.width;
        points(4 * k + q, 1) = cell.y + ((q & 2) ? 0.25 : -0.25) * cell.height;
      }
    }
    log_p = log_density(points);
    integral.evaluations += 4 * m;
    std::vector<Cell> split;
    for (Index k = 0; k < m; ++k) {
      const Cell& cell = cells[static_cast<std::size_t>(k)];
      double quarter[4], four_midpoints = 0;
      for (Index q = 0; q < 4; ++q)
        four_midpoints += quarter[q] = std::exp(log_p(4 * k + q)) * cell.width * cell.height / 4;
      const double difference = std::abs(four_midpoints - cell.midpoint_rule);
      if (difference <= cell_tolerance || depth == max_depth) {
        integral.value += four_midpoints;
        integral.error_estimate += difference;
      } else {
        for (Index q = 0; q < 4; ++q)
          split.push_back({points(4 * k + q, 0), points(4 * k + q, 1), cell.width / 2, cell.height / 2, quarter[q]});
      }
    }
    cells = std::move(split);
  }
  return integral;
}

/// The same over the square the axis spans in both coordinates.
template <class Density>
Integral integrate_2d(const Density& log_density, const GridAxis& axis, double cell_tolerance) {
  return integrate_2d(log_density, axis, axis, cell_tolerance);
}

/// The message of the FormatError a model document raises when loaded in double, or "no error".
inline std::string model_load_error(const nlohmann::json& document) {
  try {
    model_from_json<double>(document);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace eigenflow::test
