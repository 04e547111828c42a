// Splitting and standardising data sets.
//   standardise: x' = (x − shift) / scale, per column; log|det ∂x'/∂x| = −Σ_j log scale_j
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "eigenflow/core/checks.hpp"
#include "eigenflow/data/shuffle.hpp"

namespace eigenflow {

struct DataSplit {
  Matrix<double> train, validation, test;
};

/// Which rows split_dataset puts where: rows order[0, train) train, the next
/// `validation` rows validate, the last `test` rows test.
struct SplitPlan {
  std::vector<Index> order;
  std::size_t train = 0, validation = 0, test = 0;
};

/// The plan for n rows: a shuffle, then the test and validation fractions off the end.
inline SplitPlan plan_split(Index n, double validation_fraction, double test_fraction, Random& rng) {
  auto check = [](const char* what, double f) {
    if (!(f >= 0 && f < 1)) throw ValueError(std::string(what) + " fraction must be in [0, 1), found " + std::to_string(f));
  };
  check("validation", validation_fraction);
  check("test", test_fraction);
  if (validation_fraction + test_fraction >= 1)
    throw ValueError("validation and test fractions together must leave training data, found " +
                     std::to_string(validation_fraction + test_fraction));
  SplitPlan plan;
  const auto rows = static_cast<std::size_t>(n);
  plan.test = static_cast<std::size_t>(std::llround(test_fraction * static_cast<double>(rows)));
  plan.validation = static_cast<std::size_t>(std::llround(validation_fraction * static_cast<double>(rows)));
  if (plan.test + plan.validation >= rows) throw ValueError("too few points (" + std::to_string(rows) + ") for the requested split");
  plan.order = random_order(n, rng);
  plan.train = rows - plan.test - plan.validation;
  return plan;
}

/// Shuffles the rows, then takes the test and validation fractions off the end.
inline DataSplit split_dataset(const Matrix<double>& data, double validation_fraction, double test_fraction, Random& rng) {
  const SplitPlan plan = plan_split(data.rows(), validation_fraction, test_fraction, rng);
  return {select_rows(data, plan.order, 0, plan.train), select_rows(data, plan.order, plan.train, plan.validation),
          select_rows(data, plan.order, plan.train + plan.validation, plan.test)};
}

/// Per-column shift and scale of a standardisation.
struct Standardization {
  RowVector<double> shift, scale;

  /// Mean and standard deviation (population, ddof 0, as numpy's std) of each column.
  static Standardization fit(const Matrix<double>& data) {
    if (data.rows() < 2) throw ValueError("standardisation needs at least 2 points, found " + std::to_string(data.rows()));
    detail::require_finite("standardisation", data);
    Standardization s;
    s.shift = data.colwise().mean();
    s.scale = ((data.rowwise() - s.shift).array().square().colwise().sum() / static_cast<double>(data.rows())).sqrt();
    for (Index j = 0; j < s.scale.cols(); ++j)
      if (!(s.scale(j) > 0))
        throw ValueError("standardisation: column " + std::to_string(j) + " is constant (standard deviation 0)");
    return s;
  }

  Matrix<double> apply(const Matrix<double>& x) const {
    return ((x.rowwise() - shift).array().rowwise() / scale.array()).matrix();
  }
  Matrix<double> invert(const Matrix<double>& x) const {
    return ((x.array().rowwise() * scale.array()).matrix().rowwise() + shift);
  }
};

}  // namespace eigenflow
