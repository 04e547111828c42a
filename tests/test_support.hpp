// Helpers shared by the test files: seeded random matrices, model-file errors.
#pragma once

#include <eigenflow/core/random.hpp>
#include <eigenflow/core/types.hpp>
#include <eigenflow/io/model_file.hpp>

#include <string>

namespace eigenflow::test {

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

/// ∫ exp(log_density) over [-half_width, half_width]² by the midpoint rule on cells x cells.
template <class Density>
double integrate_2d(const Density& log_density, double half_width, Index cells) {
  const double h = 2 * half_width / static_cast<double>(cells);
  Matrix<double> grid(cells * cells, 2);
  for (Index i = 0; i < cells; ++i)
    for (Index j = 0; j < cells; ++j) {
      grid(i * cells + j, 0) = -half_width + (static_cast<double>(i) + 0.5) * h;
      grid(i * cells + j, 1) = -half_width + (static_cast<double>(j) + 0.5) * h;
    }
  return log_density(grid).array().exp().sum() * h * h;
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
