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

/// `fine` equal cells on [-inner, inner], then cells of about `coarse` out to ±outer: the
/// tails, where a density is smooth, need far fewer points than the bulk.
inline GridAxis graded_axis(double inner, Index fine, double outer = 0, double coarse = 1) {
  GridAxis axis;
  const Index tail = outer > inner ? static_cast<Index>(std::ceil((outer - inner) / coarse)) : 0;
  const double h = 2 * inner / static_cast<double>(fine), t = tail > 0 ? (outer - inner) / static_cast<double>(tail) : 0;
  auto cell = [&axis](double mid, double width) {
    axis.mid.push_back(mid);
    axis.width.push_back(width);
  };
  for (Index k = tail; k-- > 0;) cell(-inner - (static_cast<double>(k) + 0.5) * t, t);
  for (Index k = 0; k < fine; ++k) cell(-inner + (static_cast<double>(k) + 0.5) * h, h);
  for (Index k = 0; k < tail; ++k) cell(inner + (static_cast<double>(k) + 0.5) * t, t);
  return axis;
}

/// ∫ exp(log_density) over the square the axis spans (both coordinates), by the midpoint rule.
template <class Density>
double integrate_2d(const Density& log_density, const GridAxis& axis) {
  const Index n = static_cast<Index>(axis.mid.size());
  Matrix<double> grid(n * n, 2);
  ColumnVector<double> area(n * n);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j) {
      const std::size_t a = static_cast<std::size_t>(i), b = static_cast<std::size_t>(j);
      grid(i * n + j, 0) = axis.mid[a];
      grid(i * n + j, 1) = axis.mid[b];
      area(i * n + j) = axis.width[a] * axis.width[b];
    }
  return (log_density(grid).array().exp() * area.array()).sum();
}

/// ∫ exp(log_density) over [-half_width, half_width]² by the midpoint rule on cells x cells.
template <class Density>
double integrate_2d(const Density& log_density, double half_width, Index cells) {
  return integrate_2d(log_density, graded_axis(half_width, cells));
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
