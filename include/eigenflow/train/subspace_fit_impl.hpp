// subspace_fit.hpp's double-precision helpers (core/compiled.hpp: inline here, or compiled
// once into eigenflow::prebuilt).
#pragma once

#include <numeric>
#include <vector>

#include "eigenflow/train/subspace_fit.hpp"

namespace eigenflow::detail {

EIGENFLOW_INLINE Matrix<double> pursuit_rotation(const Matrix<double>& standardized, const Matrix<double>& whitening,
                                                 Random& rng, const ProjectionPursuitOptions& options) {
  return projection_pursuit(standardized * whitening.transpose(), rng, options).rotation;
}

EIGENFLOW_INLINE Matrix<double> pursuit_start(const Matrix<double>& training_rows, Communicator* communicator,
                                              const std::vector<Index>& global_rows, Index total_rows, Random& rng,
                                              const ProjectionPursuitOptions& options) {
  std::vector<Index> chosen(static_cast<std::size_t>(total_rows));
  std::iota(chosen.begin(), chosen.end(), Index(0));
  if (total_rows > options.max_rows) {  // projection_pursuit's own subset
    rng.shuffle(chosen.begin(), chosen.end());
    chosen.resize(static_cast<std::size_t>(options.max_rows));
  }
  Matrix<double> rows;
  if (communicator) {
    std::vector<Index> place(static_cast<std::size_t>(total_rows), -1);  // global row → its place among the chosen
    for (std::size_t k = 0; k < chosen.size(); ++k) place[static_cast<std::size_t>(chosen[k])] = static_cast<Index>(k);
    std::vector<Index> mine, positions;
    for (std::size_t i = 0; i < global_rows.size(); ++i)
      if (place[static_cast<std::size_t>(global_rows[i])] >= 0) {
        mine.push_back(static_cast<Index>(i));
        positions.push_back(place[static_cast<std::size_t>(global_rows[i])]);
      }
    const Matrix<double> sent = select_rows(training_rows, mine, 0, mine.size());
    Matrix<double> no_context;
    gather_batch(*communicator, static_cast<Index>(chosen.size()), positions, sent, Matrix<double>(sent.rows(), 0), rows, no_context);
  } else {
    rows = select_rows(training_rows, chosen, 0, chosen.size());
  }
  const Matrix<double> standardized = Standardization::fit(rows).apply(rows);
  return pursuit_rotation(standardized, zca_whitening<double>(standardized).weight(), rng, options);  // (no subset left to draw)
}

}  // namespace eigenflow::detail
